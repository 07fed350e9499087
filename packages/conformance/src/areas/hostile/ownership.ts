import { isSessionId } from "@cadre/agent-runtime-contract";
import { expect, it } from "vitest";
import { expectErrorCode, expectStartRefused, unsupportedOf } from "../../expect-error.js";
import { clampToLimits } from "../../policy-values.js";
import { type ConformanceContext, testLabelKey } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.hostile;
const day = 24 * 3600 * 1000;

/** Probes that a session is the provider's own, and that what it keeps about one stays private. */
export function registerOwnershipProbes(ctx: ConformanceContext): void {
  const timeout = () => ctx.ms(120_000);

  it(
    names.foreignObjects,
    async () => {
      const objects = await ctx.options.plantForeignObjects();
      try {
        expect(objects.length, "plantForeignObjects() planted something").toBeGreaterThan(0);
        for (const object of objects) {
          const what = `${object.description} (${object.id})`;
          expect(isSessionId(object.id), `${what} is named like a session`).toBe(true);
          expect(await object.alive(), `${what} exists before the probe`).toBe(true);
          await expectErrorCode(ctx.provider.exec(object.id, ["hostname"]), "SESSION_NOT_FOUND");
          await expectErrorCode(ctx.provider.getSession(object.id), "SESSION_NOT_FOUND");
          await ctx.provider.stopSession(object.id);
          await ctx.provider.destroySession(object.id);
          expect(await object.alive(), `${what} after stopSession and destroySession`).toBe(true);
        }
        const listed = (await ctx.provider.listSessions()).map((s) => s.id);
        const reaped = await ctx.provider.reap();
        for (const object of objects) {
          expect(listed, `listSessions shows ${object.description}`).not.toContain(object.id);
          expect(reaped, `reap removed ${object.description}`).not.toContain(object.id);
          expect(await object.alive(), `${object.description} after reap`).toBe(true);
        }
      } finally {
        await Promise.allSettled(objects.map((o) => o.remove()));
      }
    },
    timeout(),
  );

  it(
    names.longTtl,
    async () => {
      // setTimeout clamps a delay over 2^31-1 ms (24.8 days) to 1 ms: the longest TTLs are the
      // ones a naive timer fires at once.
      const ttls = [25 * day, 30 * day].map((t) => clampToLimits(ctx, "ttlMs", t));
      if (!ctx.enforced("ttlMs")) {
        const error = await expectStartRefused(
          ctx,
          ctx.policy({ ttlMs: ttls[0] }),
          "CAPABILITY_MISMATCH",
        );
        expect(unsupportedOf(error)).toEqual(["ttlMs"]);
        return;
      }
      const ids = await Promise.all(ttls.map((ttlMs) => ctx.start({ ttlMs })));
      const results = await Promise.all(
        ids.map((id) => ctx.provider.exec(id, ["sleep", "2"], { timeoutMs: ctx.ms(60_000) })),
      );
      for (const [i, id] of ids.entries()) {
        expect(results[i], `a command in the session with ttlMs ${ttls[i]}`).toMatchObject({
          exitCode: 0,
          timedOut: false,
        });
        const info = await ctx.provider.getSession(id);
        expect(info.state).toBe("running");
        expect(Date.parse(info.expiresAt ?? "") - Date.parse(info.createdAt)).toBe(ttls[i]);
      }
    },
    timeout(),
  );

  it(
    names.secretsNotListed,
    async () => {
      const name = "CADRE_PROBE_API_TOKEN";
      const secret = ctx.token("secret-value");
      const labels = { [testLabelKey]: ctx.token("secret") };
      if (!ctx.enforced("env")) {
        const refused = ctx.policy({ env: { [name]: secret }, labels });
        const error = await expectStartRefused(ctx, refused, "CAPABILITY_MISMATCH");
        expect(unsupportedOf(error)).toEqual(["env"]);
        expect(error.message, "the refusal names no env value").not.toContain(secret);
        return;
      }
      const id = await ctx.start({ env: { [name]: secret }, labels });
      const seen = await ctx.provider.exec(id, ["sh", "-c", `printf %s "$${name}"`]);
      expect(seen.stdout, "the env var reaches the session's commands").toBe(secret);

      const info = await ctx.provider.getSession(id);
      expect(info.envNames).toContain(name);
      expect(JSON.stringify(info), "getSession").not.toContain(secret);
      const listed = await ctx.provider.listSessions({ labels });
      expect(listed.map((s) => s.id)).toEqual([id]);
      expect(JSON.stringify(listed), "listSessions").not.toContain(secret);
      const raw = await ctx.options.readBackendLabels(id);
      expect(raw, "the backend's labels name the env var").toContain(name);
      expect(raw, "the backend's labels").not.toContain(secret);
    },
    timeout(),
  );

  it(
    names.otherPidNamespace,
    async () => {
      const labels = { [testLabelKey]: ctx.token("pidns-owner") };
      const owner = await ctx.startInOwnerProcess(labels, { ownPidNamespace: true });
      try {
        const info = await ctx.provider.getSession(owner.sessionId);
        expect(info.state).toBe("running");
        expect(await ctx.provider.reap(), "reap while the owner lives").not.toContain(
          owner.sessionId,
        );
        await owner.kill();
        // A pid of another namespace cannot be judged from here: only a TTL or olderThanMs may
        // remove the session, and this one has neither.
        expect(await ctx.provider.reap(), "reap after the owner died").not.toContain(
          owner.sessionId,
        );
        expect((await ctx.provider.getSession(owner.sessionId)).state).toBe("running");
      } finally {
        await owner.kill();
      }
    },
    timeout(),
  );
}
