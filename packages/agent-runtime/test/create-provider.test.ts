import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyValidationError, ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { builtInProviders, providerModuleSpecifier } from "../src/providers/built-in-providers.js";
import { createProvider } from "../src/providers/create-provider.js";
import { loadProviderDescriptor } from "../src/providers/registry.js";

const kata = builtInProviders.find((p) => p.id === "kata")!;

/** A package whose providerDescriptor is the real one of `specifier`, with another create(). */
function replacingCreate(create: (options: unknown) => unknown, requested: string[] = []) {
  return async (specifier: string) => {
    requested.push(specifier);
    const real = (await import(specifier)) as { providerDescriptor: object };
    return { providerDescriptor: { ...real.providerDescriptor, create } };
  };
}

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "cadre-create-provider-"));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe("createProvider", () => {
  it("builds the stub from config and runs a command in a real session", async () => {
    const provider = await createProvider({
      provider: "stub",
      stub: { acknowledgeNoIsolation: true, stateDir },
    });
    try {
      expect(provider.id).toBe("stub");
      const id = await provider.startSession({});
      try {
        const result = await provider.exec(id, ["sh", "-c", "echo from-stub"]);
        expect(result).toMatchObject({ exitCode: 0, stdout: "from-stub\n" });
      } finally {
        await provider.destroySession(id);
      }
      expect(await provider.listSessions()).toEqual([]);
    } finally {
      await provider.close?.();
    }
  });

  it("passes the stub's options through (advisory enforcement accepts limits)", async () => {
    const provider = await createProvider({
      provider: "stub",
      stub: { acknowledgeNoIsolation: true, stateDir, enforcement: "advisory" },
    });
    try {
      const report = await provider.capabilities();
      expect(report.policy.memory.advisory).toBe(true);
    } finally {
      await provider.close?.();
    }
  });

  it("refuses the stub without the acknowledgement, before creating anything", async () => {
    let created = false;
    const error = await createProvider(
      { provider: "stub" },
      {
        importer: replacingCreate(() => {
          created = true;
        }),
      },
    ).catch((e: unknown) => e);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    expect((error as PolicyValidationError).issues[0]?.path).toBe(
      "isolation.stub.acknowledgeNoIsolation",
    );
    expect(created).toBe(false);
  });

  it("imports only the chosen provider's package, and gives its factory the parsed section", async () => {
    const requested: string[] = [];
    const provider = await createProvider(
      { provider: "docker", docker: { runtime: "runc" }, kata: { runtime: "x" } },
      {
        importer: async (specifier) => {
          if (specifier.includes("kata")) throw new Error("kata must not be imported");
          return replacingCreate((options) => ({ id: "docker", options }), requested)(specifier);
        },
      },
    );
    expect((provider as unknown as { options: unknown }).options).toEqual({ runtime: "runc" });
    expect(requested).toEqual(["@cadre/agent-runtime-provider-docker"]);
  });

  it("says which package to install when a provider's package is missing, as a failed check", async () => {
    const specifier = "@cadre/agent-runtime-provider-not-installed";
    vi.stubEnv("CADRE_RUNTIME_TEST_PACKAGE_DOCKER", specifier);
    try {
      const error = await loadProviderDescriptor("docker").catch((e: unknown) => e);
      expect(ProviderUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(`npm install ${specifier}`);
      expect((error as ProviderUnavailableError).providerId).toBe("docker");
      expect((error as ProviderUnavailableError).checks).toEqual([
        expect.objectContaining({
          id: "docker.package",
          title: `load ${specifier}`,
          ok: false,
          required: true,
          fix: `npm install ${specifier}`,
        }),
      ]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("gives the chosen provider's descriptor to tools that need more than its factory", async () => {
    const descriptor = await loadProviderDescriptor("kata");
    expect(descriptor?.packageName).toBe("@cadre/agent-runtime-provider-kata");
    expect(typeof descriptor?.backendHooks).toBe("function");
    expect(await loadProviderDescriptor("firecracker")).toBeUndefined();
  });

  it("reports a package without a providerDescriptor as incompatible", async () => {
    const error = await createProvider(
      { provider: "kata" },
      { importer: async () => ({ somethingElse: 1 }) },
    ).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    expect((error as ProviderUnavailableError).checks[0]?.detail).toMatch(
      /does not export a providerDescriptor with id "kata"/,
    );
  });

  it("wraps an untyped failure of the factory in PROVIDER_UNAVAILABLE with its cause", async () => {
    const cause = new Error("socket exploded");
    const error = await createProvider(
      { provider: "docker" },
      {
        importer: replacingCreate(() => {
          throw cause;
        }),
      },
    ).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBe(cause);
  });

  it("lets tests redirect a provider's package through the environment", () => {
    expect(providerModuleSpecifier(kata, {})).toBe("@cadre/agent-runtime-provider-kata");
    expect(providerModuleSpecifier(kata, { CADRE_RUNTIME_TEST_PACKAGE_KATA: "@x/missing" })).toBe(
      "@x/missing",
    );
  });
});
