import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "../suite-context.js";
import { testLabelKey } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.concurrency;
const execsPerSession = 4;

export function registerConcurrency(ctx: ConformanceContext): void {
  describe("concurrency", () => {
    it(
      names.manySessions,
      async () => {
        const count = ctx.options.concurrentSessions ?? 8;
        const labels = { [testLabelKey]: ctx.token("concurrent") };
        const ids = await Promise.all(Array.from({ length: count }, () => ctx.start({ labels })));
        expect(new Set(ids).size, "every session has its own id").toBe(count);
        expect(await ctx.listedIds(labels)).toEqual([...ids].sort());

        await Promise.all(
          ids.map(async (id, s) => {
            const results = await Promise.all(
              Array.from({ length: execsPerSession }, (_, e) =>
                ctx.provider.exec(id, [
                  "sh",
                  "-c",
                  'echo "out $1"; echo "err $1" >&2; exit "$2"',
                  "sh",
                  `${s}-${e}`,
                  String(e),
                ]),
              ),
            );
            results.forEach((r, e) => {
              expect(r).toMatchObject({
                stdout: `out ${s}-${e}\n`,
                stderr: `err ${s}-${e}\n`,
                exitCode: e,
              });
            });
          }),
        );

        await Promise.all(ids.map((id) => ctx.destroy(id)));
        expect(await ctx.listedIds(labels)).toEqual([]);
        expect(await ctx.leftovers(labels)).toEqual([]);
      },
      ctx.ms(180_000),
    );
  });
}
