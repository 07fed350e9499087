import { SessionNotFoundError } from "@cadre/agent-runtime-contract";
import { expect, it } from "vitest";
import { censusTotal } from "../src/index.js";
import { describeTarget } from "./support/available.js";

const ttlMs = 1500;
/**
 * The TTL of the reap test, whose first half checks that reap() spares the session before it
 * expires: long enough that a start, a lookup and a reap on a loaded host fit well within it.
 */
const reapTtlMs = 10_000;

/** For conditions with no event to wait on: a TTL running out, another process's removal. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const name of ["stub", "docker-runc", "kata-runc"] as const) {
  await describeTarget(name, "TTL expiry without destroySession", (target) => {
    const runLabel = { "cadre.reliability/ttl-run": `${process.pid}-${name}` };
    const policy = { ...target.basePolicy, ttlMs, labels: runLabel };

    it("the owner's timer destroys the session while the owner lives", async () => {
      const provider = target.createProvider();
      const id = await provider.startSession(policy);
      // Ended by its TTL for callers (or unknown, where a provider keeps no end records).
      await eventually("the TTL timer", () =>
        provider.getSession(id).then(
          (info) => info.state === "ended" && info.end?.cause.kind === "ttl",
          (e: unknown) => SessionNotFoundError.isInstance(e),
        ),
      );
      // The timer's destroySession runs on its own: the rest of its removal may still be under
      // way when the session reads ended. It must end with nothing left.
      await eventually(
        "the timer's destroySession to finish",
        async () => censusTotal(await target.census(runLabel)) === 0,
      );
      await provider.reap({ labels: runLabel, endedOlderThanMs: 0 }); // its end record
      await provider.close?.();
    });

    it("without the owner's timer (owner closed or dead), the next reap() destroys the session once its TTL ran out, not before", async () => {
      const owner = target.createProvider();
      const id = await owner.startSession({ ...policy, ttlMs: reapTtlMs });
      const { expiresAt } = await owner.getSession(id);
      await owner.close?.();

      const reaper = target.createProvider();
      expect(await reaper.reap()).not.toContain(id);
      expect((await reaper.getSession(id)).state).toBe("running");
      await eventually(
        "the TTL to run out",
        async () => Date.now() > Date.parse(expiresAt as string),
      );
      expect(await reaper.reap()).toContain(id);
      expect(censusTotal(await target.census(runLabel))).toBe(0);
      await reaper.reap({ labels: runLabel, endedOlderThanMs: 0 }); // its end record
      await reaper.close?.();
    });
  });
}
