import { join } from "node:path";
import { registerProvider } from "@cadre/agent-runtime";
import { providerDescriptor as stubDescriptor } from "@cadre/agent-runtime-provider-stub";
import { describe, expect, it } from "vitest";
import { distFile, runNode } from "./support/child.js";

// A provider registered before the targets are read, with no engine data on this host: it must
// get a target of its own, from its descriptor alone. The import below comes after it.
registerProvider({ ...stubDescriptor, id: "stub-twin" });
const { createTarget, defaultSoakProvider, targetNameFor, targetNames, targetOptions, testHost } =
  await import("../src/index.js");

// Nothing here starts a session: target selection and options only.
describe("reliability targets from the registered descriptors", () => {
  it("are each provider with this host's variants of it, in registration order", () => {
    expect(targetNames).toEqual([
      "stub",
      "docker-runc",
      "docker-runsc",
      "kata-stand-in",
      "kata-runc",
      "kata-runsc",
      "stub-twin",
    ]);
  });

  it("are chosen by provider and variant, the provider's first one by default", () => {
    expect(targetNameFor("docker")).toBe("docker-runc");
    expect(targetNameFor("docker", "runsc")).toBe("docker-runsc");
    expect(targetNameFor("kata")).toBe("kata-stand-in");
    expect(targetNameFor("kata", "stand-in")).toBe("kata-stand-in");
    expect(targetNameFor("kata", "runsc")).toBe("kata-runsc");
    expect(targetNameFor("stub")).toBe("stub");
    expect(targetNameFor("stub-twin")).toBe("stub-twin");
    expect(targetNameFor("stub", "runc")).toBeUndefined();
    expect(targetNameFor("docker", "io.containerd.runc.v2")).toBeUndefined();
    expect(targetNameFor("vmware")).toBeUndefined();
    expect(defaultSoakProvider()).toBe("docker");
  });

  it("take the runtime's options from the descriptor and the engine's from this host", () => {
    expect(targetOptions("docker-runsc")).toEqual({
      ...testHost.docker,
      image: testHost.dockerImage,
      runtime: "runsc",
    });
    const endpoints = {
      containerdAddress: "/tmp/c.sock",
      containerdNamespace: "ns",
      fifoDir: "/f",
    };
    expect(targetOptions("kata-runsc", endpoints)).toEqual({
      address: "/tmp/c.sock",
      namespace: "ns",
      image: testHost.containerdImage,
      fifoDir: "/f",
      shimSearchPath: [testHost.shimDir],
      runtime: "io.containerd.runc.v2",
      runtimeOptions: { BinaryName: join(testHost.shimDir, "runsc-cadre") },
    });
    expect(targetOptions("kata-stand-in")).toMatchObject({
      runtime: "io.containerd.kata.v2",
      unsafeUseStandInShim: true,
    });
    expect(targetOptions("stub", { stubStateDir: "/tmp/s" })).toEqual({ stateDir: "/tmp/s" });
    expect(targetOptions("stub-twin")).toEqual({});
  });

  it("carry what their descriptor says about limits and images", () => {
    const stub = createTarget("stub");
    expect(stub).toMatchObject({ providerId: "stub", enforcesLimits: false, basePolicy: {} });
    expect(stub.variant).toBeUndefined();
    expect(createTarget("kata-runc")).toMatchObject({
      providerId: "kata",
      variant: "runc",
      enforcesLimits: true,
      basePolicy: { image: testHost.containerdImage },
    });
  });

  it("refuse a name that is no target, listing the targets", () => {
    expect(() => createTarget("kata-kata")).toThrow(
      'unknown target "kata-kata"; the targets are stub, docker-runc, docker-runsc',
    );
  });
});

describe("npm run soak", () => {
  it("lists the providers and this host's variants in its usage", async () => {
    const { code, stdout } = await runNode([distFile("soak-cli.js"), "--help"], ["--expose-gc"]);
    expect(code).toBe(0);
    expect(stdout).toContain("--provider     stub, docker, kata (default docker)");
    expect(stdout).toContain("    docker: runc (default), runsc\n");
    expect(stdout).toContain("    kata: stand-in (default), runc, runsc\n");
  });

  it("is a usage error for a variant this host does not run", async () => {
    const { code, stderr } = await runNode(
      [distFile("soak-cli.js"), "--provider", "kata", "--runtime", "kata"],
      ["--expose-gc"],
    );
    expect(code).toBe(2);
    expect(stderr).toContain("no target for --provider kata --runtime kata");
  });
});
