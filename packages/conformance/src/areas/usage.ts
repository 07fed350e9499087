import type { SessionStats } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../expect-error.js";
import { memoryHogArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.usage;
const MiB = 1024 * 1024;

/** The usage area (contract v1 addition, `features.usage`). */
export function registerUsage(ctx: ConformanceContext): void {
  describe("usage", () => {
    /** Without the feature: a call is refused. */
    const refused = async (id: string): Promise<boolean> => {
      if (ctx.report.features.usage) {
        expect(
          ctx.provider.sessionStats,
          "features.usage is true, so sessionStats must be there",
        ).toBeDefined();
        return false;
      }
      if (ctx.provider.sessionStats)
        await expectErrorCode(ctx.provider.sessionStats(id), "CAPABILITY_MISMATCH");
      return true;
    };

    it(
      names.stats,
      async () => {
        const memory = ctx.enforced("memory") ? { memory: 256 * MiB } : {};
        const id = await ctx.start(memory);
        if (await refused(id)) return;
        const stats = (sid: string) => ctx.provider.sessionStats?.(sid) as Promise<SessionStats>;
        const before = await stats(id);
        expect(before.sessionId).toBe(id);
        expect(Number.isNaN(Date.parse(before.at))).toBe(false);
        for (const [field, value] of Object.entries(before)) {
          if (typeof value === "number") expect(value, field).toBeGreaterThanOrEqual(0);
        }
        // Work that uses CPU, memory, processes and disk.
        await ctx.provider.exec(id, memoryHogArgv(32 * MiB), { timeoutMs: ctx.ms(60_000) });
        await ctx.provider.exec(
          id,
          ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"],
          {
            timeoutMs: ctx.ms(60_000),
          },
        );
        await ctx.provider.files
          ?.write(id, "/cadre-usage-probe", Buffer.alloc(4 * MiB, 1))
          .catch(() =>
            ctx.provider.files?.write(id, "/tmp/cadre-usage-probe", Buffer.alloc(4 * MiB, 1)),
          );
        const after = await stats(id);
        if (after.cpuSeconds !== undefined) {
          expect(after.cpuSeconds, "CPU time grew with a busy loop").toBeGreaterThan(
            before.cpuSeconds ?? 0,
          );
        }
        if (after.peakMemoryBytes !== undefined) {
          expect(after.peakMemoryBytes, "the peak saw the 32 MiB").toBeGreaterThanOrEqual(32 * MiB);
        }
        if (after.pids !== undefined) expect(after.pids).toBeGreaterThanOrEqual(1);
        if (ctx.enforced("memory") && after.memoryLimitBytes !== undefined) {
          expect(after.memoryLimitBytes).toBe(256 * MiB);
        }
        if (after.memoryLimitBytes !== undefined && after.memoryBytes !== undefined) {
          expect(after.memoryBytes).toBeLessThanOrEqual(after.memoryLimitBytes);
        }
        const said = ["cpuSeconds", "memoryBytes", "pids"].filter(
          (f) => (after as unknown as Record<string, unknown>)[f] !== undefined,
        );
        expect(
          said.length,
          "a provider with the feature reads at least CPU, memory or processes",
        ).toBeGreaterThan(0);
      },
      ctx.ms(180_000),
    );

    it(
      names.watch,
      async () => {
        const id = await ctx.start();
        if (await refused(id)) return;
        const watch = ctx.provider.watchSessionStats;
        expect(watch, "features.usage is true, so watchSessionStats must be there").toBeDefined();
        const controller = new AbortController();
        const readings: SessionStats[] = [];
        for await (const reading of watch!.call(ctx.provider, id, {
          intervalMs: 250,
          signal: controller.signal,
        })) {
          readings.push(reading);
          if (readings.length === 3) controller.abort();
        }
        expect(readings).toHaveLength(3);
        const times = readings.map((r) => Date.parse(r.at));
        expect(times[2]! - times[0]!, "readings come at the interval").toBeGreaterThanOrEqual(400);
        // Ends on its own once the session goes.
        const ending = (async () => {
          let n = 0;
          for await (const _ of watch!.call(ctx.provider, id, { intervalMs: 250 })) n++;
          return n;
        })();
        await new Promise((r) => setTimeout(r, 300));
        await ctx.destroy(id);
        expect(await ending).toBeGreaterThanOrEqual(1);
        await expectErrorCode(
          Promise.resolve().then(() =>
            ctx.provider.watchSessionStats!(id, { intervalMs: 1 })[Symbol.asyncIterator]().next(),
          ),
          "POLICY_INVALID",
        );
      },
      ctx.ms(120_000),
    );

    it(
      names.ended,
      async () => {
        const id = await ctx.start();
        if (await refused(id)) return;
        await ctx.provider.stopSession(id);
        await expectErrorCode(ctx.provider.sessionStats!(id), "SESSION_NOT_RUNNING");
        await ctx.destroy(id);
        await expectErrorCode(ctx.provider.sessionStats!(id), "SESSION_NOT_FOUND");
      },
      ctx.ms(120_000),
    );
  });
}
