import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProvider, type ParsedIsolationConfig } from "@cadre/agent-runtime";
import { type IsolationProvider, isSessionId } from "@cadre/agent-runtime-contract";
import { afterAll, describe, expect, it } from "vitest";
import { backendHooks } from "../src/conformance/backend-hooks.js";
import { dockerUnavailableReason, testImage } from "./helpers/docker.js";

// The hooks `cadre-runtime conformance` gives the suite, against the real engines: they read a
// session's labels from the backend, and plant objects that the provider must leave alone.
const stubStateDir = await mkdtemp(join(tmpdir(), "cadre-hooks-"));
afterAll(() => rm(stubStateDir, { recursive: true, force: true }));
const containerd = process.env.CADRE_CONTAINERD_ADDRESS ?? "/run/cadre-test/containerd.sock";
const engines: Array<{
  name: string;
  config: ParsedIsolationConfig;
  image: string | undefined;
  unavailable: string | undefined;
}> = [
  {
    name: "stub",
    config: {
      provider: "stub",
      stub: {
        acknowledgeNoIsolation: true,
        stateDir: stubStateDir,
      },
    },
    image: undefined,
    unavailable: undefined,
  },
  {
    name: "docker",
    config: { provider: "docker", docker: { runtime: "runc" } },
    image: testImage,
    unavailable: await dockerUnavailableReason(),
  },
  {
    name: "kata (stand-in shim)",
    config: {
      provider: "kata",
      kata: { address: containerd, unsafeUseStandInShim: true },
    },
    image: `docker.io/${testImage}`,
    unavailable: await access(containerd).then(
      () => undefined,
      () => `containerd is not reachable at ${containerd}`,
    ),
  },
];
const secret = "sk-live-hooks-9a8b7c6d";

describe.each(engines)("conformance backend hooks: $name", ({ config, image, unavailable }) => {
  it.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    "labels read from the backend carry env names, not values; planted objects live until removed",
    async () => {
      expect(unavailable).toBeUndefined();
      const hooks = await backendHooks(config, image);
      const provider: IsolationProvider = await createProvider(config);
      const planted = await hooks.plantForeignObjects();
      try {
        const id = await provider.startSession({
          ...(image ? { image } : {}),
          env: { API_TOKEN: secret },
          labels: { "cadre.test/hooks": "yes" },
        });
        try {
          const labels = await hooks.readBackendLabels(id);
          expect(labels).toContain("API_TOKEN");
          expect(labels).toContain(id);
          expect(labels).not.toContain(secret);
          expect(await hooks.findBackendLeftovers({ "cadre.test/hooks": "yes" })).not.toEqual([]);
        } finally {
          await provider.destroySession(id);
        }
        expect(planted.length).toBeGreaterThanOrEqual(3);
        for (const object of planted) {
          expect(isSessionId(object.id), object.id).toBe(true);
          expect(await object.alive(), object.description).toBe(true);
        }
      } finally {
        await Promise.all(planted.map((p) => p.remove()));
        await provider.close?.();
      }
      for (const object of planted) expect(await object.alive(), object.description).toBe(false);
    },
    120_000,
  );
});
