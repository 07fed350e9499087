import { PassThrough } from "node:stream";
import {
  BackendError,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { agentMountPath, agentUid } from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { dockerCapabilityRows } from "../src/capability-rows.js";
import { containerCgroupPath } from "../src/cgroup-path.js";
import { dockerConnection } from "../src/connection.js";
import { containerSpec, sandboxCpuset } from "../src/container-spec.js";
import { DockerClient } from "../src/docker-client.js";
import { sessionCallError } from "../src/docker-errors.js";
import { hostFactsFromInfo } from "../src/host-facts.js";
import { reportForHost } from "../src/host-report.js";
import { LabelCodec } from "../src/labels.js";

function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** A client that is never connected: the demultiplexer needs no daemon. */
const offline = new DockerClient({ socketPath: "/nonexistent/cadre-test/docker.sock" });

/** Feeds `pieces` to the client's demultiplexer; what the sink saw when the output ended. */
async function demultiplexed(pieces: Buffer[], end: "end" | "close" | "error" = "end") {
  const wire = new PassThrough();
  const seen: ["stdout" | "stderr", Buffer][] = [];
  const ended = offline.demultiplex(wire, (name, chunk) => seen.push([name, Buffer.from(chunk)]));
  for (const piece of pieces) wire.write(piece);
  // Let what was written flow before the stream goes away.
  await new Promise((resolve) => setImmediate(resolve));
  if (end === "end") wire.end();
  else if (end === "close") wire.destroy();
  else wire.destroy(new Error("connection reset"));
  await ended;
  const joined = (name: "stdout" | "stderr") =>
    Buffer.concat(seen.filter(([n]) => n === name).map(([, chunk]) => chunk));
  return { seen, stdout: joined("stdout"), stderr: joined("stderr") };
}

describe("DockerClient.demultiplex (the multiplexed stream's splitter)", () => {
  // Every byte value, so that any decoding on the way would show.
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const notUtf8 = Buffer.from("657272ff", "hex");
  const wire = Buffer.concat([frame(1, binary), frame(2, notUtf8), frame(1, Buffer.from("out-2"))]);

  it("splits frames whose headers and payloads the socket cut at any byte, byte-exact", async () => {
    for (let cut = 1; cut < wire.length; cut++) {
      const out = await demultiplexed([wire.subarray(0, cut), wire.subarray(cut)]);
      expect(out.stdout.equals(Buffer.concat([binary, Buffer.from("out-2")]))).toBe(true);
      expect(out.stderr.equals(notUtf8)).toBe(true);
    }
  });

  it("hands bytes on as they arrive, one at a time if so, in order and before the end", async () => {
    const bytes = Array.from(wire, (byte) => Buffer.from([byte]));
    const out = await demultiplexed(bytes);
    expect(out.seen).toHaveLength(256 + 4 + 5);
    expect(out.seen.map(([name]) => name)).toEqual([
      ...Array(256).fill("stdout"),
      ...Array(4).fill("stderr"),
      ...Array(5).fill("stdout"),
    ]);
    // A frame whole in one chunk comes as one piece, a view of it.
    const whole = await demultiplexed([wire]);
    expect(whole.seen.map(([name, chunk]) => [name, chunk.length])).toEqual([
      ["stdout", 256],
      ["stderr", 4],
      ["stdout", 5],
    ]);
  });

  it("ends the output when the stream closes or fails, with what of a cut frame arrived", async () => {
    const cutOff = wire.subarray(0, wire.length - 2);
    for (const end of ["close", "error"] as const) {
      const out = await demultiplexed([cutOff], end);
      expect(out.stdout.equals(Buffer.concat([binary, Buffer.from("out")]))).toBe(true);
      expect(out.stderr.equals(notUtf8)).toBe(true);
    }
  });

  it("ends the output at a header no daemon writes, and destroys the stream", async () => {
    const wire = new PassThrough();
    const seen: Buffer[] = [];
    const ended = offline.demultiplex(wire, (_name, chunk) => seen.push(Buffer.from(chunk)));
    const bad = frame(1, Buffer.from("x"));
    bad[0] = 7;
    wire.write(
      Buffer.concat([frame(1, Buffer.from("before")), bad, frame(1, Buffer.from("after"))]),
    );
    await ended;
    expect(Buffer.concat(seen).toString()).toBe("before");
    expect(wire.destroyed).toBe(true);
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
    const facts = hostFactsFromInfo(info, { ApiVersion: "1.41" });
    const runc = reportForHost("runc", facts);
    expect(runc.isolation).toBe("container");
    expect(runc.policy.pids.enforced).toBe(true);
    expect(runc.policy.cpu.limits?.max).toBe(2);
    const runsc = reportForHost("runsc", facts);
    expect(runsc.isolation).toBe("user-kernel");
    expect(runsc.policy.pids.enforced).toBe(false);
    expect(runsc.policy.networkIsolation.mechanism).toBe("runsc --network=none: loopback only");
  });

  it("says which limits' causes it cannot tell where the daemon's host cgroups are out of reach", () => {
    const facts = hostFactsFromInfo(info, { ApiVersion: "1.41" });
    const local = reportForHost("runc", facts);
    expect(local.policy.memory.reportsCause).toBeUndefined();
    expect(local.policy.pids.reportsCause).toBeUndefined();
    const remote = reportForHost("runc", facts, { hostCgroups: false });
    expect(remote.policy.memory).toMatchObject({ enforced: true, reportsCause: false });
    expect(remote.policy.pids).toMatchObject({ enforced: true, reportsCause: false });
    // gVisor's memory kill takes the whole sandbox, which the engine reports wherever it is.
    const runsc = reportForHost("runsc", facts, { hostCgroups: false });
    expect(runsc.policy.memory.reportsCause).toBeUndefined();
  });

  it("does not claim a field whose cgroup controller the daemon lacks", () => {
    const facts = hostFactsFromInfo(
      { ...info, MemoryLimit: false, PidsLimit: false, CpuCfsQuota: false },
      { ApiVersion: "1.41" },
    );
    const report = reportForHost("runc", facts);
    expect(report.policy.memory.enforced).toBe(false);
    expect(report.policy.pids.enforced).toBe(false);
    expect(report.policy.cpu.enforced).toBe(false);
    expect(report.policy.readOnlyRootfs.enforced).toBe(true);
  });

  it("has one static row per runtime, and Podman's rows where it differs", () => {
    expect(dockerCapabilityRows.map((r) => r.variant)).toEqual([
      "runc",
      "runsc",
      "crun",
      "podman, crun",
      "podman rootless, crun, cgroup v1",
    ]);
  });
});

describe("containerSpec", () => {
  const base = {
    sessionId: "cadre-0123456789abcdef",
    image: "img:1",
    labels: {},
    hostCpus: 4,
    networkMode: "net-id",
    agentBinary: "/opt/cadre-agent",
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

  it("runs the agent as PID 1, mounted read-only, its stdin open, in place of Docker's init", () => {
    const spec = containerSpec({
      ...base,
      runtime: "runc",
      policy: {},
      agentBinary: "/opt/cadre-agent",
    });
    expect(spec.Entrypoint).toEqual([agentMountPath]);
    expect(spec.Cmd).toEqual(["--agent-uid", String(agentUid), "--user", "0", "--nofile", "4096"]);
    expect([spec.OpenStdin, spec.StdinOnce, spec.HostConfig?.Init]).toEqual([true, false, false]);
    expect(spec.HostConfig?.Binds).toContain(`/opt/cadre-agent:${agentMountPath}:ro`);
    // Started as root with what it needs only, the agent becomes agentUid, keeping that.
    expect(spec.User).toBe("0:0");
    expect(spec.HostConfig?.CapDrop).toEqual(["ALL"]);
    expect(spec.HostConfig?.CapAdd).toEqual(["CHOWN", "KILL", "SETUID", "SETGID", "SETPCAP"]);
    const asApp = containerSpec({
      ...base,
      runtime: "runc",
      policy: { user: "app:staff" },
      agentBinary: "/opt/cadre-agent",
      imageUser: "ignored",
    });
    expect(asApp.Cmd?.slice(2, 4)).toEqual(["--user", "app:staff"]);
    const asImageUser = containerSpec({
      ...base,
      runtime: "runc",
      policy: {},
      agentBinary: "/opt/cadre-agent",
      imageUser: "1000",
    });
    expect(asImageUser.Cmd?.slice(2, 4)).toEqual(["--user", "1000"]);
  });
});

describe("dockerConnection", () => {
  it("reads DOCKER_HOST when no connection option is given", () => {
    expect(dockerConnection({}, { DOCKER_HOST: "unix:///run/other.sock" })).toEqual({
      socketPath: "/run/other.sock",
    });
    expect(dockerConnection({}, { DOCKER_HOST: "tcp://10.0.0.2:2376" })).toEqual({
      host: "10.0.0.2",
      port: 2376,
      insecure: false,
    });
    expect(dockerConnection({}, { DOCKER_HOST: "tcp://10.0.0.2" })).toEqual({
      host: "10.0.0.2",
      port: 2375,
      insecure: false,
    });
    expect(dockerConnection({ socketPath: "/x.sock" }, { DOCKER_HOST: "tcp://h:1" })).toEqual({
      socketPath: "/x.sock",
    });
    expect(dockerConnection({ host: "h" }, { DOCKER_HOST: "unix:///y.sock" })).toEqual({
      host: "h",
      port: 2375,
      insecure: false,
    });
    expect(dockerConnection({}, {})).toEqual({ socketPath: "/var/run/docker.sock" });
  });

  it("is the address the client uses, whatever DOCKER_HOST says", async () => {
    const saved = process.env.DOCKER_HOST;
    // dockerode fills the fields of an address it is not given from DOCKER_HOST.
    process.env.DOCKER_HOST = "tcp://127.0.0.1:9";
    try {
      const client = new DockerClient({ socketPath: "/nonexistent/cadre-test/docker.sock" });
      const error = await client.ping(AbortSignal.timeout(5000)).catch((e: unknown) => e);
      expect(ProviderUnavailableError.isInstance(error)).toBe(true);
      expect((error as ProviderUnavailableError).checks[0]?.detail).toBe(
        "cannot connect to unix:///nonexistent/cadre-test/docker.sock: ENOENT",
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});

describe("sessionCallError", () => {
  const context = { providerId: "docker", address: "unix:///d.sock" };
  const daemonSays = (statusCode: number, message: string) => ({
    statusCode,
    json: { message },
    message: `(HTTP code ${statusCode}) ${message}`,
  });

  it("names the session in the contract's errors, and keeps the daemon's error as the cause", () => {
    const gone = daemonSays(404, "No such container: abc");
    const notFound = sessionCallError(gone, "cadre-1", "inspect", context);
    expect(SessionNotFoundError.isInstance(notFound)).toBe(true);
    expect(notFound.cause).toBe(gone);
    const stopped = sessionCallError(
      daemonSays(409, "Container abc is not running"),
      "cadre-1",
      "create an exec",
      context,
    );
    expect(SessionNotRunningError.isInstance(stopped)).toBe(true);
    const down = sessionCallError({ code: "ECONNREFUSED" }, "cadre-1", "stop", context);
    expect(ProviderUnavailableError.isInstance(down)).toBe(true);
    const other = sessionCallError(daemonSays(500, "disk full"), "cadre-1", "start it", context);
    expect(BackendError.isInstance(other)).toBe(true);
    expect(other.message).toContain("Docker failed to start it: disk full.");
  });
});

describe("LabelCodec", () => {
  it("writes provider labels under the configured prefix and reads them back", () => {
    const codec = new LabelCodec("com.example.cadre.");
    const docker = codec.toDocker({ "cadre.agent-runtime/session-id": "s", team: "a" });
    expect(docker).toEqual({ "com.example.cadre.session-id": "s", team: "a" });
    expect(codec.fromDocker(docker)).toEqual({ "cadre.agent-runtime/session-id": "s", team: "a" });
  });
});

describe("a container's cgroup", () => {
  const id = "a".repeat(64);

  it("follows the daemon's cgroup driver and the container's cgroup parent", () => {
    const cgroupfs = { cgroupDriver: "cgroupfs" };
    expect(containerCgroupPath(cgroupfs, id, "")).toBe(`/docker/${id}`);
    expect(containerCgroupPath(cgroupfs, id, "/sessions/")).toBe(`/sessions/${id}`);
    const systemd = { cgroupDriver: "systemd" };
    expect(containerCgroupPath(systemd, id, undefined)).toBe(`/system.slice/docker-${id}.scope`);
    expect(containerCgroupPath(systemd, id, "cadre-sessions.slice")).toBe(
      `/cadre.slice/cadre-sessions.slice/docker-${id}.scope`,
    );
    const podman = { cgroupDriver: "cgroupfs", engine: "podman" as const };
    expect(containerCgroupPath(podman, id, "")).toBe(`/libpod_parent/libpod-${id}`);
  });
});

describe("containerSpec defaults", () => {
  const base = {
    sessionId: "cadre-0123456789abcdef",
    image: "img:1",
    labels: {},
    hostCpus: 4,
    networkMode: "none",
    agentBinary: "/opt/cadre-agent",
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
