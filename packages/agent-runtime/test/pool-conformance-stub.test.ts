import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { createStubProvider, StubBackend } from "@cadre/agent-runtime-provider-stub";
import { matchesLabels } from "@cadre/agent-runtime-provider-utils";
import { afterAll, expect } from "vitest";
import { SessionPool } from "../src/index.js";
import { poolLabels } from "../src/pool/pool-labels.js";
import { assertBuilt } from "./helpers/built.js";

// The whole conformance suite, through a SessionPool over the stub.
assertBuilt();
const stateDir = mkdtempSync(join(tmpdir(), "cadre-pool-conformance-"));
process.env.CADRE_POOL_CONFORMANCE_STATE_DIR = stateDir;
const pools: SessionPool[] = [];
const backend = new StubBackend(stateDir);

/**
 * Sessions on disk with these labels, read through a separate stub instance. The pools' own warm
 * sessions (idle, or being created) are left out: they are the pool's inventory, not sessions
 * the suite started, and the afterAll below checks that close() removed every one of them.
 */
async function leftovers(labels: Record<string, string>): Promise<string[]> {
  const backend = createStubProvider({ stateDir });
  try {
    const sessions = await backend.listSessions();
    return sessions
      .filter((s) => matchesLabels(s, labels) && !pools.some((p) => p.holdsSession(s)))
      .map((s) => s.id);
  } finally {
    await backend.close();
  }
}

runConformance({
  name: "stub through a SessionPool",
  createProvider: () => {
    const pool = new SessionPool(createStubProvider({ stateDir }), { size: 2, exitHooks: false });
    pools.push(pool);
    return pool;
  },
  providerModule: fileURLToPath(new URL("./fixtures/stub-pool-module.mjs", import.meta.url)),
  findBackendLeftovers: leftovers,
  readBackendLabels: backend.readLabels,
  plantForeignObjects: backend.plantForeignObjects,
  findEndRecords: backend.findEndRecords,
  killFromOutside: backend.killFromOutside,
});

afterAll(async () => {
  // Runs after the suite's own teardown closed the pools.
  const backend = createStubProvider({ stateDir });
  try {
    for (const pool of pools) {
      const left = await backend.listSessions({ labels: { [poolLabels.poolId]: pool.poolId } });
      expect(
        left.map((s) => `${s.id} ${s.state} ${JSON.stringify(s.labels)} ${s.createdAt}`),
        `warm sessions of ${pool.poolId} after close()`,
      ).toEqual([]);
    }
    // The suite went through the pool's warm inventory, not only around it.
    expect(pools[0]?.stats().hits ?? 0).toBeGreaterThan(0);
  } finally {
    await backend.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
