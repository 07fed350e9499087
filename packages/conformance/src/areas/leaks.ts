import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

export function registerLeakCheck(ctx: ConformanceContext): void {
  describe("leaks", () => {
    it(
      conformanceTestNames.leaks.final,
      async () => {
        expect(await ctx.listedIds(), "sessions listed with this run's label").toEqual([]);
        expect(await ctx.leftovers(), "backend objects with this run's label").toEqual([]);
        // Ended sessions' records are kept for a while by design; the run removes its own.
        await ctx.provider.reap({ labels: ctx.runLabels, endedOlderThanMs: 0 });
        const records = (await ctx.options.findEndRecords?.(ctx.runLabels)) ?? [];
        expect(records, "end records with this run's label").toEqual([]);
      },
      ctx.ms(60_000),
    );
  });
}
