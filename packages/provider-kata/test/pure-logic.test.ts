import {
  agentArgs,
  agentBinaryPath,
  agentCapabilities,
  agentMountPath,
} from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { chainIds } from "../src/containerd/chain-id.js";
import { normalizeImageRef } from "../src/containerd/image-ref.js";
import { shimBinaryName } from "../src/options.js";
import { encodeRuntimeOptions } from "../src/spec/runtime-options.js";
import {
  buildSessionSpec,
  sizingAnnotations,
  workdirAnnotation,
} from "../src/spec/session-spec.js";

describe("pure helpers", () => {
  it("normalises image references as containerd stores them", () => {
    expect(normalizeImageRef("busybox")).toBe("docker.io/library/busybox:latest");
    expect(normalizeImageRef("cadre-test/busybox:1")).toBe("docker.io/cadre-test/busybox:1");
    expect(normalizeImageRef("localhost:5000/a/b")).toBe("localhost:5000/a/b:latest");
    expect(normalizeImageRef("docker.io/x/y@sha256:ab")).toBe("docker.io/x/y@sha256:ab");
  });

  it("computes chain ids: the first is the diff id, then sha256 of 'parent child'", () => {
    const a = `sha256:${"a".repeat(64)}`;
    const b = `sha256:${"b".repeat(64)}`;
    const [first, second] = chainIds([a, b]);
    expect(first).toBe(a);
    // sha256("sha256:aaa… sha256:bbb…"), computed independently with coreutils' sha256sum.
    expect(second).toBe("sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  });

  it("encodes runc options as containerd.runc.v1.Options (binary_name = field 6)", () => {
    const any = encodeRuntimeOptions({ BinaryName: "/x" });
    expect(any?.type_url).toBe("containerd.runc.v1.Options");
    expect([...(any?.value ?? [])]).toEqual([0x32, 2, 0x2f, 0x78]);
    expect(encodeRuntimeOptions({ ConfigPath: "/k" })?.type_url).toBe("runtimeoptions.v1.Options");
    expect(encodeRuntimeOptions({})).toBeUndefined();
  });

  it("sizes a Kata VM in MiB and whole vCPUs, rounding up", () => {
    expect(sizingAnnotations({ memory: 512_000_000, cpu: 0.5 })).toEqual({
      "io.katacontainers.config.hypervisor.default_memory": "489",
      "io.katacontainers.config.hypervisor.default_vcpus": "1",
    });
    expect(sizingAnnotations({})).toEqual({});
  });

  it("names the shim binary containerd looks for", () => {
    expect(shimBinaryName("io.containerd.kata.v2")).toBe("containerd-shim-kata-v2");
    expect(shimBinaryName("io.containerd.runc.v2")).toBe("containerd-shim-runc-v2");
  });

  it("makes cadre-agent PID 1: root with the agent's capabilities only, bind-mounted read-only, the user as its argument", () => {
    const agentBinary = agentBinaryPath() ?? "/host/cadre-agent";
    const spec = buildSessionSpec({
      sessionId: "cadre-0123456789abcdef",
      policy: { user: "user:staff", workdir: "/tmp/work" },
      user: "user:staff",
      agentBinary,
      env: ["PATH=/bin", "A=b"],
      cwd: "/tmp/work",
      cgroupParent: "/cadre",
      defaultPids: 1024,
    });
    expect(spec.process.args).toEqual([agentMountPath, ...agentArgs("user:staff")]);
    expect(spec.process.args).toContain("user:staff");
    expect(spec.process.user).toEqual({ uid: 0, gid: 0 });
    const held = agentCapabilities.map((c) => `CAP_${c}`);
    expect(spec.process.capabilities).toEqual({
      bounding: held,
      effective: held,
      permitted: held,
      inheritable: [],
      ambient: [],
    });
    expect(spec.process.noNewPrivileges).toBe(true);
    // PID 1 runs in "/", the commands in the session's directory.
    expect(spec.process.cwd).toBe("/");
    expect(spec.annotations[workdirAnnotation]).toBe("/tmp/work");
    expect(spec.process.env).toEqual(["PATH=/bin", "A=b"]);
    expect(spec.mounts.filter((m) => m.destination === agentMountPath)).toEqual([
      {
        destination: agentMountPath,
        type: "bind",
        source: agentBinary,
        options: ["rbind", "ro", "nosuid", "nodev"],
      },
    ]);
  });

  it("lets the agent make what it needs through the session's seccomp filter", () => {
    const spec = buildSessionSpec({
      sessionId: "cadre-0123456789abcdef",
      policy: {},
      user: "",
      agentBinary: "/host/cadre-agent",
      env: [],
      cwd: "/",
      cgroupParent: "/cadre",
      defaultPids: undefined,
    });
    expect(spec.process.args).toEqual([agentMountPath, ...agentArgs(undefined)]);
    const allowed = new Set(
      spec.linux.seccomp?.syscalls
        .filter((rule) => rule.action === "SCMP_ACT_ALLOW" && !rule.args)
        .flatMap((rule) => rule.names),
    );
    // Becoming its own uid and each command's, its capabilities, its socket, its loop.
    for (const call of [
      "setresuid",
      "setresgid",
      "setgroups",
      "capget",
      "capset",
      "prctl",
      "fchown",
      "bind",
      "listen",
      "accept4",
      "getsockopt",
      "connect",
      "pipe2",
      "poll",
      "ppoll",
      "wait4",
      "kill",
      "execve",
      "chdir",
      "close_range",
      "getdents64",
    ]) {
      expect(allowed.has(call), call).toBe(true);
    }
    // socket only with a condition (no vsock), clone only without namespace flags.
    const conditional = spec.linux.seccomp?.syscalls.filter((rule) => rule.args);
    expect(conditional?.flatMap((r) => r.names)).toEqual(
      expect.arrayContaining(["socket", "clone"]),
    );
  });
});
