import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { matchesLabels, sessionInfoFromLabels } from "@cadre/agent-runtime-provider-utils";
import { afterAll } from "vitest";
import { createStubProvider } from "../src/index.js";
import { SessionStore } from "../src/session-store.js";

const stateDir = mkdtempSync(join(tmpdir(), "cadre-stub-conformance-"));
// The suite's owner process imports the fixture module, which reads this to share the directory.
process.env.CADRE_STUB_CONFORMANCE_STATE_DIR = stateDir;

/** Reads the state directory directly, not through the provider. */
async function sessionsOnDisk(labels: Record<string, string>): Promise<string[]> {
  const entries = await new SessionStore(stateDir).list();
  return entries
    .map(({ record }) => sessionInfoFromLabels(record.labels, record.state))
    .filter((info) => info !== undefined && matchesLabels(info, labels))
    .map((info) => `${stateDir}/${info?.id}`);
}

runConformance({
  name: "stub",
  createProvider: () => createStubProvider({ stateDir }),
  providerModule: fileURLToPath(new URL("./fixtures/stub-provider-module.mjs", import.meta.url)),
  findBackendLeftovers: sessionsOnDisk,
});

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
