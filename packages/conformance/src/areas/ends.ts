import {
  AgentRuntimeError,
  eventsLimits,
  type SessionEvent,
  type SessionEventType,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { EventWatch } from "../event-watch.js";
import { expectEnded, expectErrorCode } from "../expect-error.js";
import { clampToLimits } from "../policy-values.js";
import { forkBombArgv, memoryHogArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { testLabelKey } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.ends;
const MiB = 1024 * 1024;

/** One test's labels, and a watch of the events of sessions carrying them. */
function watchTest(ctx: ConformanceContext, what: string, ttlLeadMs?: number) {
  const labels = { [testLabelKey]: ctx.token(what) };
  const watch = new EventWatch(ctx.provider, {
    labels,
    ...(ttlLeadMs !== undefined ? { ttlLeadMs } : {}),
  });
  return { labels, watch };
}

const isEvent =
  (type: SessionEventType, sessionId: string, extra: (e: SessionEvent) => boolean = () => true) =>
  (event: SessionEvent) =>
    event.type === type && event.sessionId === sessionId && extra(event);

export function registerEnds(ctx: ConformanceContext): void {
  describe("ends and events", () => {
    const timeout = () => ctx.ms(120_000);
    const eventWithin = () => ctx.ms(30_000);

    it(
      names.sessionEvents,
      async () => {
        const { labels, watch } = watchTest(ctx, "events");
        try {
          const id = await ctx.start({ labels });
          const result = await ctx.provider.exec(id, ["sh", "-c", "exit 3"]);
          expect(result.exitCode).toBe(3);
          // An exec its caller aborts rejects, and its end says so.
          const abort = new AbortController();
          const running = ctx.provider.exec(id, ["sleep", "60"], { signal: abort.signal });
          await watch.waitFor(
            "the sleep's start",
            isEvent("exec.started", id, (e) => (e as { command: string }).command === "sleep"),
            eventWithin(),
          );
          abort.abort(new Error("aborted by the conformance suite"));
          await expect(running).rejects.toThrow("aborted by the conformance suite");
          await ctx.destroy(id);
          await watch.waitFor("its end", isEvent("session.ended", id), eventWithin());
          // A second session after the first one's end: once its end is told, everything the
          // engine had to say of the first one was told too (the engine tells in order).
          const marker = await ctx.start({ labels });
          await ctx.destroy(marker);
          await watch.waitFor("the marker's end", isEvent("session.ended", marker), eventWithin());

          const told = watch.of(id);
          expect(told.map((e) => e.type)).toEqual([
            "session.started",
            "exec.started",
            "exec.ended",
            "exec.started",
            "exec.ended",
            "session.ended",
          ]);
          const [, started, ended, sleepStarted, sleepEnded, end] = told;
          expect(sleepEnded).toMatchObject({
            execId: (sleepStarted as { execId: string }).execId,
            command: "sleep",
            cause: { kind: "aborted" },
          });
          expect(sleepEnded).not.toHaveProperty("exitCode");
          expect(started).toMatchObject({ command: "sh" });
          expect(ended).toMatchObject({
            execId: (started as { execId: string }).execId,
            command: "sh",
            exitCode: 3,
            cause: { kind: "exited" },
          });
          expect(end).toMatchObject({ cause: { kind: "destroyed", by: "owner" } });
          for (const event of told) expect(Number.isFinite(Date.parse(event.at))).toBe(true);
          // argv[0] only: an argument is where a token may be.
          expect(JSON.stringify(told)).not.toContain("exit 3");
          await expectEnded(ctx, id, { kind: "destroyed", by: "owner" });
        } finally {
          await watch.stop();
        }
      },
      timeout(),
    );

    it(
      names.killedFromOutside,
      async () => {
        const { labels, watch } = watchTest(ctx, "killed");
        try {
          const id = await ctx.start({ labels });
          await watch.waitFor("its start", isEvent("session.started", id), eventWithin());
          await ctx.options.killFromOutside(id);
          const end = await watch.waitFor(
            "the end of a killed sandbox",
            isEvent("session.ended", id),
            eventWithin(),
          );
          expect(end).toMatchObject({ cause: { kind: "agent-lost" } });
          const info = await ctx.provider.getSession(id);
          expect(info.state, "a killed sandbox does not run").not.toBe("running");
          expect(info.end?.cause).toMatchObject({ kind: "agent-lost" });
          await expectErrorCode(ctx.provider.exec(id, ["true"]), "SESSION_NOT_RUNNING");
          await ctx.destroy(id);
          // The first end stays: it was killed, then removed.
          await expectEnded(ctx, id, { kind: "agent-lost" });
          expect(watch.of(id).filter((e) => e.type === "session.ended")).toHaveLength(1);
        } finally {
          await watch.stop();
        }
      },
      timeout(),
    );

    it(
      names.ttl,
      async () => {
        if (!ctx.report.features.ttl || !ctx.enforced("ttlMs")) return;
        // The TTL counts from before the sandbox is made: a few times what a start takes here
        // and now, so that it does not run out during the start (a loaded host, an SSH engine).
        const began = performance.now();
        await ctx.destroy(await ctx.start());
        const startMs = performance.now() - began;
        const ttl = clampToLimits(ctx, "ttlMs", Math.max(ctx.ms(3_000), Math.ceil(startMs * 4)));
        // A lead as long as the TTL: told as soon as the session is known.
        const { labels, watch } = watchTest(ctx, "ttl", ttl);
        try {
          const id = await ctx.start({ labels, ttlMs: ttl });
          const approaching = await watch.waitFor(
            "its TTL approaching",
            isEvent("ttl.approaching", id),
            eventWithin(),
          );
          expect(approaching).toMatchObject({ leadMs: ttl });
          const expiresAt = (approaching as { expiresAt: string }).expiresAt;
          const end = await watch.waitFor(
            "its end by TTL",
            isEvent("session.ended", id),
            ttl + eventWithin(),
          );
          expect(end).toMatchObject({ cause: { kind: "ttl", limit: ttl } });
          expect(Date.parse(end.at)).toBeGreaterThanOrEqual(Date.parse(expiresAt) - 1_000);
          const types = watch.of(id).map((e) => e.type);
          expect(types.indexOf("ttl.approaching")).toBeLessThan(types.indexOf("session.ended"));
          await expectEnded(ctx, id, { kind: "ttl", limit: ttl });
        } finally {
          await watch.stop();
        }
      },
      timeout(),
    );

    it(
      names.limits,
      async () => {
        if (ctx.reportsCause("pids")) {
          const limit = clampToLimits(ctx, "pids", 32);
          const { labels, watch } = watchTest(ctx, "pids");
          try {
            const id = await ctx.start({ labels, pids: limit });
            const bomb = await ctx.provider.exec(id, forkBombArgv(limit * 4), {
              timeoutMs: ctx.ms(60_000),
            });
            expect(bomb.cause.kind, JSON.stringify(bomb.cause)).toBe("pids");
            const hit = await watch.waitFor(
              "the refused fork",
              isEvent("limit.hit", id, (e) => (e as { resource: string }).resource === "pids"),
              eventWithin(),
            );
            if ((hit as { limit?: number }).limit !== undefined)
              expect(hit).toMatchObject({ limit });
            await watch.waitFor(
              "the bomb's end",
              isEvent(
                "exec.ended",
                id,
                (e) => (e as { cause: { kind: string } }).cause.kind === "pids",
              ),
              eventWithin(),
            );
          } finally {
            await watch.stop();
          }
        }
        if (ctx.reportsCause("memory")) {
          const limit = clampToLimits(ctx, "memory", 64 * MiB);
          const { labels, watch } = watchTest(ctx, "memory");
          try {
            const id = await ctx.start({ labels, memory: limit });
            await ctx.provider
              .exec(id, memoryHogArgv(limit * 4), { timeoutMs: ctx.ms(30_000) })
              .catch((error: unknown) => {
                if (!AgentRuntimeError.isInstance(error) || error.code !== "RESOURCE_LIMIT")
                  throw error;
              });
            const hit = await watch.waitFor(
              "the memory kill",
              isEvent("limit.hit", id, (e) => (e as { resource: string }).resource === "memory"),
              eventWithin(),
            );
            if ((hit as { limit?: number }).limit !== undefined)
              expect(hit).toMatchObject({ limit });
            // Where the kill took the whole sandbox (gVisor), the session ended for memory.
            const info = await ctx.provider.getSession(id);
            if (info.state !== "running") {
              expect(info.end?.cause).toMatchObject({ kind: "memory" });
              const end = await watch.waitFor(
                "the sandbox's end",
                isEvent("session.ended", id),
                eventWithin(),
              );
              expect(end).toMatchObject({ cause: { kind: "memory" } });
            }
          } finally {
            await watch.stop();
          }
        }
      },
      timeout(),
    );

    it(
      names.reaped,
      async () => {
        const { labels, watch } = watchTest(ctx, "reaped");
        try {
          const owner = await ctx.startInOwnerProcess(labels);
          await owner.kill();
          const reaped = await ctx.provider.reap({ labels });
          expect(reaped).toEqual([owner.sessionId]);
          const end = await watch.waitFor(
            "the orphan's end",
            isEvent("session.ended", owner.sessionId),
            eventWithin(),
          );
          expect(end).toMatchObject({ cause: { kind: "reaped", reason: "owner-gone" } });
          const told = await watch.waitFor(
            "the reap",
            isEvent("session.reaped", owner.sessionId),
            eventWithin(),
          );
          expect(told).toMatchObject({ reason: "owner-gone" });
          await expectEnded(ctx, owner.sessionId, { kind: "reaped", reason: "owner-gone" });
        } finally {
          await watch.stop();
        }
      },
      timeout(),
    );

    it(
      names.records,
      async () => {
        if (!ctx.report.features.sessionEnds) return;
        const findEndRecords = ctx.options.findEndRecords;
        expect(findEndRecords, "findEndRecords, for a provider with sessionEnds").toBeDefined();
        const labels = { [testLabelKey]: ctx.token("records") };
        const secret = ctx.token("secret-value");
        const id = await ctx.start({ labels, env: { CADRE_END_SECRET: secret } });
        await ctx.destroy(id);
        const records = await findEndRecords!(labels);
        expect(records, "one record in the backend").toHaveLength(1);
        expect(records[0]).toContain(id);
        expect(records[0], "no env value in a record").not.toContain(secret);
        const listed = await ctx.provider.listSessions({ labels, includeEnded: true });
        expect(listed).toEqual([
          expect.objectContaining({
            id,
            state: "ended",
            labels: expect.objectContaining(labels),
            envNames: ["CADRE_END_SECRET"],
          }),
        ]);
        expect(JSON.stringify(listed)).not.toContain(secret);
        expect(await ctx.provider.listSessions({ labels }), "left out by default").toEqual([]);
        // Within its retention, a plain reap keeps it; asked to, reap removes it.
        expect(await ctx.provider.reap({ labels })).toEqual([]);
        expect(await findEndRecords!(labels)).toHaveLength(1);
        expect(await ctx.provider.reap({ labels, endedOlderThanMs: 0 })).toEqual([]);
        expect(await findEndRecords!(labels)).toEqual([]);
        await expectErrorCode(ctx.provider.getSession(id), "SESSION_NOT_FOUND");
      },
      timeout(),
    );

    it(
      names.badOptions,
      async () => {
        const provider = ctx.provider;
        const bad: unknown[] = [
          { ttlLeadMs: -1 },
          { ttlLeadMs: eventsLimits.maxTtlLeadMs + 1 },
          { ttlLeadMs: Number.MAX_SAFE_INTEGER },
          { ttlLeadMs: Number.NaN },
          { ttlLeadMs: 1.5 },
          { ttlLeadMs: "60000" },
          { sessionId: 42 },
          { labels: { "": "x" } },
          { unknown: true },
          "options",
        ];
        for (const options of bad) {
          let error: unknown;
          try {
            provider.events?.(options as never);
          } catch (thrown) {
            error = thrown;
          }
          expect(
            AgentRuntimeError.isInstance(error) && error.code === "POLICY_INVALID",
            `events(${JSON.stringify(options)}) is refused`,
          ).toBe(true);
        }
        // The largest lead there is, on a session with a TTL far away: told at once, no overflow.
        const { labels, watch } = watchTest(ctx, "lead", eventsLimits.maxTtlLeadMs);
        try {
          if (ctx.enforced("ttlMs")) {
            const id = await ctx.start({ labels, ttlMs: clampToLimits(ctx, "ttlMs", 3_600_000) });
            await watch.waitFor(
              "its TTL approaching",
              isEvent("ttl.approaching", id),
              eventWithin(),
            );
            await ctx.destroy(id);
          }
        } finally {
          await watch.stop();
        }
      },
      timeout(),
    );

    const restart = ctx.options.restartEngine;
    if (restart) {
      it(
        names.engineRestart,
        async () => {
          const { labels, watch } = watchTest(ctx, "restart");
          try {
            const id = await ctx.start({ labels });
            await watch.waitFor("its start", isEvent("session.started", id), eventWithin());
            await restart.restart();
            if (restart.sessionsSurvive) {
              const after = await ctx.provider.exec(id, ["echo", "still here"], {
                timeoutMs: ctx.ms(60_000),
              });
              expect(after.stdout).toBe("still here\n");
              expect(watch.of(id).map((e) => e.type)).not.toContain("session.ended");
              return;
            }
            const end = await watch.waitFor(
              "its end with the engine",
              isEvent("session.ended", id),
              ctx.ms(90_000),
            );
            expect(end).toMatchObject({ cause: { kind: "engine-lost" } });
            expect((await ctx.provider.getSession(id)).end?.cause).toMatchObject({
              kind: "engine-lost",
            });
            await ctx.destroy(id);
            await expectEnded(ctx, id, { kind: "engine-lost" });
          } finally {
            await watch.stop();
          }
        },
        ctx.ms(240_000),
      );
    }
  });
}
