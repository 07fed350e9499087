import { describe, expect, it } from "vitest";
import { lingeringTreeArgv, listProcessesArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";
import { waitUntil } from "../wait-until.js";

const names = conformanceTestNames.isolation;

export function registerIsolation(ctx: ConformanceContext): void {
  describe("isolation", () => {
    const timeout = () => ctx.ms(120_000);
    const skipWithoutIsolation = (skip: (note: string) => void) => {
      if (ctx.report.isolation === "none") skip('the provider reports isolation "none"');
    };

    it(
      names.files,
      async (test) => {
        skipWithoutIsolation(test.skip);
        const [a, b] = await Promise.all([ctx.start(), ctx.start()]);
        const file = `/tmp/${ctx.token("iso")}`;
        const secret = ctx.token("secret");
        const write = await ctx.provider.exec(a, [
          "sh",
          "-c",
          `echo ${secret} > ${file}; cat ${file}`,
        ]);
        expect(write.stdout, "the file is readable in its own session").toBe(`${secret}\n`);
        const read = await ctx.provider.exec(b, ["cat", file]);
        expect(read.exitCode, `${file} must not exist in the other session`).not.toBe(0);
        expect(read.stdout).not.toContain(secret);
      },
      timeout(),
    );

    it(
      names.processes,
      async (test) => {
        skipWithoutIsolation(test.skip);
        const [a, b] = await Promise.all([ctx.start(), ctx.start()]);
        const token = ctx.token();
        const controller = new AbortController();
        const running = ctx.provider
          .exec(a, lingeringTreeArgv(token), {
            signal: controller.signal,
            timeoutMs: ctx.ms(60_000),
          })
          .catch(() => undefined);
        try {
          // Polls session A's own view until the probe shows up: that is the probe's control.
          await waitUntil(
            "the probe process to appear in its own session",
            async () => (await ctx.provider.exec(a, listProcessesArgv)).stdout.includes(token),
            ctx.ms(30_000),
          );
          const other = await ctx.provider.exec(b, listProcessesArgv);
          expect(other.stdout, "the listing works in the other session").toContain(
            "/proc/[0-9]*/cmdline",
          );
          expect(other.stdout.includes(token), "session B sees session A's process").toBe(false);
        } finally {
          controller.abort(new Error("probe finished"));
          await running;
        }
      },
      timeout(),
    );
  });
}
