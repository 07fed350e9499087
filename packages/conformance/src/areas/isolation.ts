import { isolationLevels } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectStartRefused, unsupportedOf } from "../expect-error.js";
import { lingeringTreeArgv, listProcessesArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";
import { waitUntil } from "../wait-until.js";

const names = conformanceTestNames.isolation;

export function registerIsolation(ctx: ConformanceContext): void {
  describe("isolation", () => {
    const timeout = () => ctx.ms(120_000);
    /**
     * A provider without isolation cannot keep sessions apart, so it must say so: its report says
     * "none" and every level from "container" up is refused. True when that was checked.
     */
    const checkedNoIsolation = async (): Promise<boolean> => {
      if (ctx.report.isolation !== "none") return false;
      for (const level of isolationLevels.filter((l) => l !== "none")) {
        const error = await expectStartRefused(
          ctx,
          ctx.policy({ minimumIsolation: level }),
          "CAPABILITY_MISMATCH",
        );
        expect(unsupportedOf(error), `minimumIsolation "${level}" is refused`).toEqual([
          "minimumIsolation",
        ]);
      }
      return true;
    };

    it(
      names.files,
      async () => {
        if (await checkedNoIsolation()) return;
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
      async () => {
        if (await checkedNoIsolation()) return;
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
