import { describe, expect, it } from "vitest";
import { dockerCapabilityRows } from "../src/capability-rows.js";
import { containerSpec, sandboxCpuset } from "../src/container-spec.js";
import { exitCodeForStartFailure } from "../src/exec-start-failure.js";
import { FrameParser } from "../src/frame-parser.js";
import { hostFactsFromInfo } from "../src/host-facts.js";
import { reportForHost } from "../src/host-report.js";
import { LabelCodec } from "../src/labels.js";
import { oomCounterPath } from "../src/oom-detector.js";
import { connectionOptions } from "../src/options.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("FrameParser", () => {
  it("splits frames cut at every byte boundary", () => {
    const wire = Buffer.concat([frame(1, "out-1 "), frame(2, "err"), frame(1, "out-2")]);
    for (let cut = 1; cut < wire.length; cut++) {
      const seen = { stdout: "", stderr: "" };
      const parser = new FrameParser((name, chunk) => {
        seen[name] += chunk.toString();
      });
      parser.push(wire.subarray(0, cut));
      parser.push(wire.subarray(cut));
      expect(seen).toEqual({ stdout: "out-1 out-2", stderr: "err" });
      expect(parser.incomplete).toBe(false);
    }
  });

  it("knows when the stream stopped inside a frame", () => {
    const parser = new FrameParser(() => {});
    parser.push(frame(1, "abcdef").subarray(0, 10));
    expect(parser.incomplete).toBe(true);
  });
});

const info = {
  ServerVersion: "20.10.24",
  Runtimes: {
    runc: { path: "runc" },
    runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] },
  },
  MemoryLimit: true,
  SwapLimit: true,
  CpuCfsQuota: true,
  CpuCfsPeriod: true,
  CPUSet: true,
  PidsLimit: true,
  CgroupVersion: "1",
  NCPU: 2,
  InitBinary: "docker-init",
};

describe("reportForHost", () => {
  it("claims what the static row claims on a host that has everything", () => {
    const facts = hostFactsFromInfo(info, "1.41");
    const runc = reportForHost("runc", facts);
    expect(runc.isolation).toBe("container");
    expect(runc.policy.pids.enforced).toBe(true);
    expect(runc.policy.cpu.limits?.max).toBe(2);
    const runsc = reportForHost("runsc", facts);
    expect(runsc.isolation).toBe("user-kernel");
    expect(runsc.policy.pids.enforced).toBe(false);
    expect(runsc.policy.networkIsolation.mechanism).toBe("runsc --network=none: loopback only");
  });

  it("does not claim a field whose cgroup controller the daemon lacks", () => {
    const facts = hostFactsFromInfo(
      { ...info, MemoryLimit: false, PidsLimit: false, CpuCfsQuota: false },
      "1.41",
    );
    const report = reportForHost("runc", facts);
    expect(report.policy.memory.enforced).toBe(false);
    expect(report.policy.pids.enforced).toBe(false);
    expect(report.policy.cpu.enforced).toBe(false);
    expect(report.policy.readOnlyRootfs.enforced).toBe(true);
  });

  it("has one static row per runtime", () => {
    expect(dockerCapabilityRows.map((r) => r.variant)).toEqual(["runc", "runsc"]);
  });
});

describe("containerSpec", () => {
  const base = {
    sessionId: "cadre-0123456789abcdef",
    image: "img:1",
    labels: {},
    hostCpus: 4,
    networkMode: "net-id",
  };

  it("joins the network it is given, and none at all with networkIsolation", () => {
    const joined = containerSpec({ ...base, runtime: "runc", policy: {} });
    expect(joined.HostConfig?.NetworkMode).toBe("net-id");
    const isolated = containerSpec({
      ...base,
      runtime: "runc",
      policy: { networkIsolation: true },
    });
    expect(isolated.HostConfig?.NetworkMode).toBe("none");
  });

  it("pins a gVisor session to ceil(cpu) CPUs and leaves runc sessions unpinned", () => {
    const runsc = containerSpec({ ...base, runtime: "runsc", policy: { cpu: 1.5 } });
    expect(runsc.HostConfig?.CpusetCpus?.split(",")).toHaveLength(2);
    expect(runsc.HostConfig?.NanoCpus).toBe(1_500_000_000);
    const runc = containerSpec({ ...base, runtime: "runc", policy: { cpu: 1.5 } });
    expect(runc.HostConfig?.CpusetCpus).toBeUndefined();
  });

  it("never asks for more CPUs than the host has", () => {
    expect(sandboxCpuset(8, 2, "cadre-x").split(",").sort()).toEqual(["0", "1"]);
  });
});

describe("exitCodeForStartFailure", () => {
  it("turns the runtime's 'not found' into 127 and keeps other 126s", () => {
    const runc =
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "x": executable file not found in $PATH: unknown\r\n';
    expect(exitCodeForStartFailure(126, runc)).toBe(127);
    const denied =
      'OCI runtime exec failed: exec failed: exec: "/etc/passwd": permission denied: unknown\r\n';
    expect(exitCodeForStartFailure(126, denied)).toBe(126);
    expect(exitCodeForStartFailure(126, "my own message: no such file or directory")).toBe(126);
  });
});

describe("options", () => {
  it("reads DOCKER_HOST when no connection option is given", () => {
    expect(connectionOptions({}, { DOCKER_HOST: "unix:///run/other.sock" })).toEqual({
      socketPath: "/run/other.sock",
    });
    expect(connectionOptions({}, { DOCKER_HOST: "tcp://10.0.0.2:2375" })).toMatchObject({
      host: "10.0.0.2",
      port: 2375,
    });
    expect(connectionOptions({ socketPath: "/x.sock" }, { DOCKER_HOST: "tcp://h:1" })).toEqual({
      socketPath: "/x.sock",
    });
    expect(connectionOptions({}, {})).toEqual({ socketPath: "/var/run/docker.sock" });
  });

  it("writes provider labels under the configured prefix and reads them back", () => {
    const codec = new LabelCodec("com.example.cadre.");
    const docker = codec.toDocker({ "cadre.agent-runtime/session-id": "s", team: "a" });
    expect(docker).toEqual({ "com.example.cadre.session-id": "s", team: "a" });
    expect(codec.fromDocker(docker)).toEqual({ "cadre.agent-runtime/session-id": "s", team: "a" });
  });
});

describe("oomCounterPath", () => {
  const id = "a".repeat(64);

  it("follows the daemon's cgroup driver and version and the container's cgroup parent", () => {
    const v1 = { cgroupVersion: "1", cgroupDriver: "cgroupfs" };
    expect(oomCounterPath(v1, id, "")).toBe(
      `/sys/fs/cgroup/memory/docker/${id}/memory.oom_control`,
    );
    expect(oomCounterPath(v1, id, "/sessions/")).toBe(
      `/sys/fs/cgroup/memory/sessions/${id}/memory.oom_control`,
    );
    const v2 = { cgroupVersion: "2", cgroupDriver: "systemd" };
    expect(oomCounterPath(v2, id, undefined)).toBe(
      `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.events`,
    );
    expect(oomCounterPath(v2, id, "cadre-sessions.slice")).toBe(
      `/sys/fs/cgroup/cadre.slice/cadre-sessions.slice/docker-${id}.scope/memory.events`,
    );
    expect(oomCounterPath({ cgroupVersion: "2", cgroupDriver: "cgroupfs" }, id, "")).toBe(
      `/sys/fs/cgroup/docker/${id}/memory.events`,
    );
  });
});

describe("containerSpec defaults", () => {
  const base = {
    sessionId: "cadre-0123456789abcdef",
    image: "img:1",
    labels: {},
    hostCpus: 4,
    networkMode: "none",
  };

  it("gives every session nofile, runc sessions a bounded /tmp and a pids limit", () => {
    const runc = containerSpec({ ...base, runtime: "runc", policy: {} });
    expect(runc.HostConfig?.Tmpfs?.["/tmp"]).toMatch(/size=536870912/);
    expect(runc.HostConfig?.Ulimits).toEqual([{ Name: "nofile", Soft: 4096, Hard: 4096 }]);
    expect(runc.HostConfig?.PidsLimit).toBe(1024);
    expect(
      containerSpec({ ...base, runtime: "runc", policy: { pids: 64 } }).HostConfig?.PidsLimit,
    ).toBe(64);
    const runsc = containerSpec({ ...base, runtime: "runsc", policy: {} });
    expect(runsc.HostConfig?.PidsLimit).toBeUndefined();
    expect(runsc.HostConfig?.Tmpfs).toBeUndefined();
    const readOnly = containerSpec({ ...base, runtime: "runsc", policy: { readOnlyRootfs: true } });
    expect(readOnly.HostConfig?.Tmpfs?.["/tmp"]).toMatch(/size=536870912/);
  });
});
