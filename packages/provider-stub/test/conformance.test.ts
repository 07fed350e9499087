import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { afterAll } from "vitest";
import { createStubProvider, StubBackend } from "../src/index.js";

const stateDir = mkdtempSync(join(tmpdir(), "cadre-stub-conformance-"));
// The suite's owner process imports the fixture module, which reads this to share the directory.
process.env.CADRE_STUB_CONFORMANCE_STATE_DIR = stateDir;
// Reads and writes the state directory directly, not through the provider.
const backend = new StubBackend(stateDir);

runConformance({
  name: "stub",
  createProvider: () => createStubProvider({ stateDir }),
  providerModule: fileURLToPath(new URL("./fixtures/stub-provider-module.mjs", import.meta.url)),
  findBackendLeftovers: backend.findLeftovers,
  readBackendLabels: backend.readLabels,
  plantForeignObjects: backend.plantForeignObjects,
  findEndRecords: backend.findEndRecords,
  killFromOutside: backend.killFromOutside,
});

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
