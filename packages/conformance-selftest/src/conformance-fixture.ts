import { type ConformanceOptions, runConformance } from "@cadre/agent-runtime-conformance";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { createStubProvider } from "@cadre/agent-runtime-provider-stub";
import { afterAll } from "vitest";
import { RecordingProvider } from "./delegating-provider.js";
import { FixtureBackend } from "./stub-backend.js";

/** Environment variable that tells provider-module.mjs (the killed owner) where sessions live. */
export const stateDirVariable = "CADRE_SELFTEST_STATE_DIR";

/**
 * Runs the conformance suite against the real stub, on a state directory of its own, wrapped by
 * `breakIt` (identity for the healthy fixture).
 */
export function runStubConformance(
  name: string,
  breakIt: (stub: IsolationProvider, backend: { stateDir: string }) => IsolationProvider = (stub) =>
    stub,
  extra: Partial<ConformanceOptions> = {},
): void {
  const backend = new FixtureBackend();
  process.env[stateDirVariable] = backend.stateDir;
  afterAll(() => backend.remove());

  runConformance({
    name,
    createProvider: () => {
      const stub = createStubProvider({ stateDir: backend.stateDir });
      const recording = new RecordingProvider(stub, (id, labels) => backend.remember(id, labels));
      return breakIt(recording, backend);
    },
    findBackendLeftovers: backend.findLeftovers,
    readBackendLabels: backend.readLabels,
    plantForeignObjects: backend.plantForeignObjects,
    findEndRecords: backend.findEndRecords,
    killFromOutside: backend.killFromOutside,
    providerModule: new URL("../fixtures/provider-module.mjs", import.meta.url).href,
    ...extra,
  });
}
