import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyValidationError } from "@cadre/agent-runtime-contract";
import { createStubProvider, stubCapabilityRows } from "@cadre/agent-runtime-provider-stub";
import type { ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseIsolationConfig } from "../src/config/parse.js";
import { validateIsolationConfig } from "../src/config/validate.js";
import { createProvider } from "../src/providers/create-provider.js";
import {
  loadProviderDescriptor,
  providerIds,
  registerProvider,
} from "../src/providers/registry.js";

// A provider defined here, not in cadre's list: host processes (the stub's) under another id.
const hostProcesses = {
  id: "host-processes",
  packageName: "(this test file)",
  title: "host processes, for a test",
  optionsSchema: z.strictObject({ stateDir: z.string().startsWith("/") }),
  create: (options: { stateDir: string }) => createStubProvider({ stateDir: options.stateDir }),
  capabilityRows: stubCapabilityRows,
  backendHooks: () => {
    throw new Error("not used here");
  },
} satisfies ProviderDescriptor<{ stateDir: string }>;

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "cadre-registry-"));
  registerProvider(hostProcesses);
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe("registerProvider", () => {
  it("makes a provider defined elsewhere known by its id, after the built-in ones", async () => {
    expect(providerIds()).toEqual(["stub", "docker", "kata", "host-processes"]);
    expect(await loadProviderDescriptor("host-processes")).toBe(hostProcesses);
    expect(parseIsolationConfig({ provider: "host-processes" }).provider).toBe("host-processes");
  });

  it("registers the same descriptor once, and refuses another one under a taken id", () => {
    expect(() => registerProvider(hostProcesses)).not.toThrow();
    expect(() => registerProvider({ ...hostProcesses })).toThrow(/already registered/);
    expect(() => registerProvider({ ...hostProcesses, id: "docker" })).toThrow(
      /already registered/,
    );
    expect(() => registerProvider({ ...hostProcesses, id: "Not An Id" })).toThrow(/provider id/);
  });

  it("validates its section through its schema, with the loader's paths", async () => {
    const error = await validateIsolationConfig({
      provider: "host-processes",
      "host-processes": { acknowledgeNoIsolation: true, stateDir: "relative", other: 1 },
    }).catch((e: unknown) => e);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    expect((error as PolicyValidationError).issues.map((i) => i.path).sort()).toEqual([
      "isolation.host-processes.other",
      "isolation.host-processes.stateDir",
    ]);
  });

  it("requires the acknowledgement of a provider whose rows all say isolation none", async () => {
    const error = await validateIsolationConfig({
      provider: "host-processes",
      "host-processes": { stateDir },
    }).catch((e: unknown) => e);
    expect((error as PolicyValidationError).issues).toEqual([
      {
        path: "isolation.host-processes.acknowledgeNoIsolation",
        message: expect.stringMatching(
          /^the host-processes provider gives no isolation .* or choose "stub" or "docker" or "kata"$/,
        ),
      },
    ]);
  });

  it("lets createProvider build it and run a command", async () => {
    const provider = await createProvider({
      provider: "host-processes",
      "host-processes": { acknowledgeNoIsolation: true, stateDir },
    });
    try {
      const id = await provider.startSession({});
      const result = await provider.exec(id, ["sh", "-c", "echo registered"]);
      expect(result).toMatchObject({ exitCode: 0, stdout: "registered\n" });
      await provider.destroySession(id);
    } finally {
      await provider.close?.();
    }
  });
});
