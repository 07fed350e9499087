import { setTimeout as delay } from "node:timers/promises";
import { type SessionEndCause, SessionNotFoundError } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectEnded, expectStartRefused, sessionLives, unsupportedOf } from "../expect-error.js";
import { clampToLimits } from "../policy-values.js";
import type { ConformanceContext } from "../suite-context.js";
import { testLabelKey } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.cleanup;

/**
 * reap() must return `id` unless something else removed the session first (another run's reap
 * on a shared engine); either way it must be gone afterwards, and tell that reap took it for
 * `cause`.
 */
async function expectReaped(
  ctx: ConformanceContext,
  id: string,
  cause: Partial<SessionEndCause>,
): Promise<void> {
  const before = await sessionLives(ctx, id);
  const reaped = await ctx.provider.reap();
  if (before) expect(reaped, "reap() returns the orphan's id").toContain(id);
  await expectEnded(ctx, id, cause);
}

export function registerCleanup(ctx: ConformanceContext): void {
  describe("cleanup", () => {
    const timeout = () => ctx.ms(120_000);

    it(
      names.noLeftoversAfterDestroy,
      async () => {
        const labels = { [testLabelKey]: ctx.token("leftovers") };
        const id = await ctx.start({ labels });
        await ctx.provider.exec(id, ["sh", "-c", "echo data > /tmp/some-file"]);
        expect(await ctx.leftovers(labels), "the backend holds the live session").not.toEqual([]);
        await ctx.destroy(id);
        expect(await ctx.leftovers(labels)).toEqual([]);
        expect(await ctx.listedIds(labels)).toEqual([]);
      },
      timeout(),
    );

    it(
      names.reapKilledOwner,
      async () => {
        const labels = { [testLabelKey]: ctx.token("orphan") };
        const owner = await ctx.startInOwnerProcess(labels);
        await owner.kill();
        expect(await ctx.listedIds(labels), "the orphan is listed").toEqual([owner.sessionId]);
        await expectReaped(ctx, owner.sessionId, { kind: "reaped", reason: "owner-gone" });
        expect(await ctx.listedIds(labels)).toEqual([]);
        expect(await ctx.leftovers(labels)).toEqual([]);
      },
      timeout(),
    );

    it(
      names.reapSparesLiveOwner,
      async () => {
        const id = await ctx.start();
        const reaped = await ctx.provider.reap();
        expect(reaped).not.toContain(id);
        expect((await ctx.provider.getSession(id)).state).toBe("running");
      },
      timeout(),
    );

    it(
      names.reapExpired,
      async () => {
        const labels = { [testLabelKey]: ctx.token("expired") };
        const ttl = clampToLimits(ctx, "ttlMs", ctx.ms(1_500));
        if (!ctx.enforced("ttlMs")) {
          // Without TTLs nothing can expire: the request itself must be refused.
          expect(ctx.report.features.ttl, "features.ttl when ttlMs is not enforced").toBe(false);
          const error = await expectStartRefused(
            ctx,
            ctx.policy({ labels, ttlMs: ttl }),
            "CAPABILITY_MISMATCH",
          );
          expect(unsupportedOf(error)).toEqual(["ttlMs"]);
          return;
        }
        const owner = await ctx.options.createProvider();
        let id: string;
        try {
          id = await owner.startSession(ctx.policy({ labels, ttlMs: ttl }));
          ctx.track(id);
        } finally {
          // Closing releases the owner's TTL timer: only reap() can remove the session now.
          await owner.close?.();
        }
        // On a loaded host the TTL may have run out during the start already: the session is then
        // gone for callers, and reap is what removes it from the backend.
        const info = await ctx.provider.getSession(id).catch((error: unknown) => {
          if (SessionNotFoundError.isInstance(error)) return undefined;
          throw error;
        });
        const wait = info ? Date.parse(info.expiresAt ?? info.createdAt) - Date.now() + 50 : 0;
        // The condition is the wall clock itself, so waiting for it is not a race.
        if (wait > 0) await delay(wait);
        await expectReaped(ctx, id, { kind: "ttl", limit: ttl });
        expect(await ctx.leftovers(labels)).toEqual([]);
      },
      timeout(),
    );
  });
}
