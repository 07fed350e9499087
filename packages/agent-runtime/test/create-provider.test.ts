import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyValidationError, ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createProvider } from "../src/providers/create-provider.js";
import { importProviderExport } from "../src/providers/import-provider.js";
import { providerModuleSpecifier } from "../src/providers/packages.js";

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

  it("refuses the stub without the acknowledgement, before importing anything", async () => {
    let imported = false;
    const error = await createProvider(
      { provider: "stub" },
      {
        importer: async () => {
          imported = true;
          return {};
        },
      },
    ).catch((e: unknown) => e);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    expect((error as PolicyValidationError).issues[0]?.path).toBe(
      "isolation.stub.acknowledgeNoIsolation",
    );
    expect(imported).toBe(false);
  });

  it("imports only the chosen provider's package", async () => {
    const requested: string[] = [];
    await createProvider(
      { provider: "docker", docker: { runtime: "runc" }, kata: { runtime: "x" } },
      {
        importer: async (specifier) => {
          requested.push(specifier);
          return { createDockerProvider: (options: unknown) => ({ id: "docker", options }) };
        },
      },
    ).then((provider) => {
      expect((provider as unknown as { options: unknown }).options).toEqual({ runtime: "runc" });
    });
    expect(requested).toEqual(["@cadre/agent-runtime-provider-docker"]);
  });

  it("says which package to install when a provider's package is missing, as a failed check", async () => {
    const specifier = "@cadre/agent-runtime-provider-not-installed";
    vi.stubEnv("CADRE_RUNTIME_TEST_PACKAGE_DOCKER", specifier);
    try {
      const error = await importProviderExport("docker", "dockerBackendHooks").catch(
        (e: unknown) => e,
      );
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

  it("gives any export of the chosen provider's package to tools that need more than its factory", async () => {
    const hooks = () => "hooks";
    const requested: string[] = [];
    const found = await importProviderExport<typeof hooks>("kata", "kataBackendHooks", {
      importer: async (specifier) => {
        requested.push(specifier);
        return { kataBackendHooks: hooks };
      },
    });
    expect(found).toBe(hooks);
    expect(requested).toEqual(["@cadre/agent-runtime-provider-kata"]);
  });

  it("reports a package without the expected factory as incompatible", async () => {
    const error = await createProvider(
      { provider: "kata" },
      { importer: async () => ({ somethingElse: 1 }) },
    ).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/does not export createKataProvider/);
  });

  it("wraps an untyped failure of the factory in PROVIDER_UNAVAILABLE with its cause", async () => {
    const cause = new Error("socket exploded");
    const error = await createProvider(
      { provider: "docker" },
      {
        importer: async () => ({
          createDockerProvider: () => {
            throw cause;
          },
        }),
      },
    ).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBe(cause);
  });

  it("lets tests redirect a provider's package through the environment", () => {
    expect(providerModuleSpecifier("kata", {})).toBe("@cadre/agent-runtime-provider-kata");
    expect(providerModuleSpecifier("kata", { CADRE_RUNTIME_TEST_PACKAGE_KATA: "@x/missing" })).toBe(
      "@x/missing",
    );
  });
});
