import {
  CapabilityMismatchError as ContractCapabilityMismatchError,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import {
  CapabilityMismatchError,
  ContainerdBackend,
  createKataProvider,
  type KataAdapter,
  KataProvider,
  type KataSessionConfig,
  StubKataAdapter,
} from "../src/index.js";

describe("the seed package's API", () => {
  it("runs the README's basic example with the stub adapter and prints hello", async () => {
    const provider = new KataProvider(new StubKataAdapter());
    const sessionId = await provider.startSession({
      memory: 512_000_000,
      cpu: 1,
      networkIsolation: true,
      readOnlyRootfs: false,
    });
    const result = await provider.exec(sessionId, ["echo", "hello"]);
    expect(result.stdout.trim()).toBe("hello");
    expect(result.exitCode).toBe(0);
    await provider.stopSession(sessionId);
    await provider.destroySession(sessionId);
    await expect(provider.getSession(sessionId)).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
  });

  it("reports the stub adapter honestly: no isolation, advisory fields", async () => {
    const report = await new KataProvider(new StubKataAdapter()).capabilities();
    expect(report.isolation).toBe("none");
    expect(report.policy.memory).toMatchObject({ enforced: false, advisory: true });
    await expect(
      new KataProvider(new StubKataAdapter()).startSession({ minimumIsolation: "vm" }),
    ).rejects.toMatchObject({ code: "CAPABILITY_MISMATCH" });
  });

  it("names seccomp as the unsupported field, as the README promises", async () => {
    const provider = new KataProvider(new StubKataAdapter());
    const error = await provider
      .startSession({ memory: 512_000_000, seccomp: "strict" } as Parameters<
        KataProvider["startSession"]
      >[0])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapabilityMismatchError);
    expect(CapabilityMismatchError).toBe(ContractCapabilityMismatchError);
    expect((error as CapabilityMismatchError).unsupportedPolicies).toEqual(["seccomp"]);
    expect(await provider.listSessions()).toEqual([]);
  });

  it("delegates to a custom adapter with the session's config", async () => {
    const calls: string[] = [];
    let config: KataSessionConfig | undefined;
    const adapter: KataAdapter = {
      async createSandbox(id, cfg) {
        calls.push(`create ${id}`);
        config = cfg;
      },
      async execInSandbox(id, cmd) {
        calls.push(`exec ${id} ${cmd.join(" ")}`);
        return { exitCode: 0, stdout: "ok", stderr: "" };
      },
      async stopSandbox(id) {
        calls.push(`stop ${id}`);
      },
      async destroySandbox(id) {
        calls.push(`destroy ${id}`);
      },
    };
    const provider = new KataProvider(adapter);
    const id = await provider.startSession({ memory: 256_000_000, labels: { team: "a" } });
    expect(config?.memory).toBe(256_000_000);
    expect(config?.sessionLabels["cadre.agent-runtime/session-id"]).toBe(id);
    expect((await provider.exec(id, ["true"])).stdout).toBe("ok");
    await provider.stopSession(id);
    await expect(provider.exec(id, ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_RUNNING",
    });
    await provider.destroySession(id);
    expect(calls).toEqual([`create ${id}`, `exec ${id} true`, `stop ${id}`, `destroy ${id}`]);
  });

  it("a bare new KataProvider() uses containerd and fails closed with the failed checks", async () => {
    // A socket that does not exist: the default adapter must refuse, never fall back to the stub.
    const provider = new KataProvider({ address: "/nonexistent/containerd.sock" });
    expect(new KataProvider().containerd).toBeInstanceOf(ContainerdBackend);
    const error = await provider.startSession({ memory: 512_000_000 }).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    const failed = (error as ProviderUnavailableError).checks.map((c) => c.id);
    expect(failed).toContain("containerd.reachable");
    expect((error as Error).message).toContain("Fix:");
    await provider.close();
  });

  it("createKataProvider(options) builds the containerd-backed provider", async () => {
    const provider = createKataProvider({ address: "/nonexistent/containerd.sock" });
    expect(provider.id).toBe("kata");
    expect(provider.specificationVersion).toBe("isolation-provider/v1");
    await provider.close();
  });
});
