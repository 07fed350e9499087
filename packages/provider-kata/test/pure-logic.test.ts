import { describe, expect, it } from "vitest";
import { chainIds } from "../src/containerd/chain-id.js";
import { normalizeImageRef } from "../src/containerd/image-ref.js";
import { shimBinaryName } from "../src/options.js";
import { encodeRuntimeOptions } from "../src/spec/runtime-options.js";
import { sizingAnnotations } from "../src/spec/session-spec.js";
import { resolveUser } from "../src/spec/user.js";

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

  it("resolves users and groups, and rejects unknown names with POLICY_INVALID", () => {
    const passwd = "root:x:0:0::/root:/bin/sh\nuser:x:1000:1001::/home/user:/bin/sh\n";
    const group = "root:x:0:\nstaff:x:50:\n";
    expect(resolveUser("user", { passwd, group }, "kata")).toEqual({ uid: 1000, gid: 1001 });
    expect(resolveUser("1000", { passwd, group }, "kata")).toEqual({ uid: 1000, gid: 1001 });
    expect(resolveUser("4242", { passwd, group }, "kata")).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser("user:staff", { passwd, group }, "kata")).toEqual({ uid: 1000, gid: 50 });
    expect(() => resolveUser("ghost", { passwd, group }, "kata")).toThrow(/not in the image/);
  });
});
