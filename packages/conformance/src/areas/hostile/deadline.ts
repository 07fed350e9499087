import { AgentRuntimeError, type ExecResult, execKillGraceMs } from "@cadre/agent-runtime-contract";
import { expect, it } from "vitest";
import { clampToLimits } from "../../policy-values.js";
import {
  escapedSuffixes,
  escapingTreeArgv,
  killByTokenArgv,
  listProcessesArgv,
} from "../../probes.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.hostile;

/**
 * A timed-out exec and how long it took to settle. The bound is the contract's grace, scaled for
 * slow backends, plus room for a loaded test host: the probe catches an exec that hangs on an
 * escaped process, not one that is a little slow.
 */
async function timedExec(
  ctx: ConformanceContext,
  id: string,
  argv: string[],
  timeoutMs: number,
  onStdout?: (chunk: Uint8Array) => void,
): Promise<{ result: ExecResult; settledMs: number; boundMs: number }> {
  const started = performance.now();
  const result = await ctx.provider.exec(id, argv, { timeoutMs, onStdout });
  const settledMs = performance.now() - started;
  return { result, settledMs, boundMs: timeoutMs + ctx.ms(execKillGraceMs) + 10_000 };
}

/** Probes that a command cannot outlive or stall its exec's deadline. */
export function registerDeadlineProbes(ctx: ConformanceContext): void {
  const timeout = () => ctx.ms(180_000);

  it(
    names.deadlineEscape,
    async () => {
      const id = await ctx.start();
      const token = ctx.token("escape");
      let started = false;
      try {
        const { result, settledMs, boundMs } = await timedExec(
          ctx,
          id,
          escapingTreeArgv(token),
          ctx.ms(10_000),
          (chunk) => {
            if (Buffer.from(chunk).includes("started")) started = true;
          },
        );
        expect(started, "both escaped processes ran before the deadline").toBe(true);
        expect(result.timedOut).toBe(true);
        expect(settledMs, "exec settled by its deadline plus the grace").toBeLessThanOrEqual(
          boundMs,
        );
        expect(result.kill, "a killed command's result says what the kill reached").toBeDefined();
        expect(typeof result.kill?.complete).toBe("boolean");
        expect(result.kill?.method.length).toBeGreaterThan(0);

        // A provider may end the whole session to make sure: then nothing of it is left.
        const listing = await ctx.provider.exec(id, listProcessesArgv).then(
          (r) => r.stdout,
          (error: unknown) => {
            if (!AgentRuntimeError.isInstance(error) || error.code !== "SESSION_NOT_RUNNING")
              throw error;
            return "";
          },
        );
        const survivors = escapedSuffixes.filter((s) => listing.includes(`${token}-${s}`));
        if (survivors.length > 0) {
          expect(
            result.kill?.complete,
            `these escaped processes survived, yet the result claims a complete kill: ${survivors.join(", ")}`,
          ).toBe(false);
        }
      } finally {
        // Whatever escaped goes now, also where a session's end would not take it (the stub).
        await ctx.provider.exec(id, killByTokenArgv(token, escapedSuffixes)).catch(() => {});
      }
    },
    timeout(),
  );

  it(
    names.replacedHelpers,
    async () => {
      if (ctx.report.isolation === "none") {
        // Without a boundary the session's binaries are the host's: this probe never replaces
        // them. There are no helpers inside a session either.
        return;
      }
      const flood = ctx.token("flood");
      /** A session whose shell, cat, grep and kill print `flood` forever. */
      const hostileSession = async (extra: Record<string, unknown>): Promise<string> => {
        const id = await ctx.start(extra);
        // A copy of the real shell under the name "sh" (busybox picks its applet by name), on the
        // root file system, which a restart of the session keeps: in /bin, where the tenant
        // replaces binaries anyway (Podman makes / itself 0555, which a uid 0 without
        // capabilities cannot write).
        const replace = [
          "set -e",
          "mkdir -p /bin/.cadre-real",
          "cp -L /bin/sh /bin/.cadre-real/sh",
          `printf '#!/bin/.cadre-real/sh\\nwhile :; do echo ${flood}; done\\n' > /bin/.cadre-real/flood`,
          "chmod 755 /bin/.cadre-real/flood",
          "for f in /bin/sh /bin/cat /usr/bin/cat /bin/grep /bin/kill; do",
          '  if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f"; cp /bin/.cadre-real/flood "$f"; fi',
          "done",
          "echo replaced",
        ].join("\n");
        const replaced = await ctx.provider.exec(id, ["/bin/sh", "-c", replace]);
        expect(replaced.stdout, replaced.stderr).toContain("replaced");
        return id;
      };

      // A deadline: a provider that kills through the session's own shell meets the flood. It may
      // fall back to ending the session; it must not hang.
      const first = await hostileSession({});
      const sleeper = await timedExec(
        ctx,
        first,
        ["/bin/.cadre-real/sh", "-c", "sleep 600"],
        ctx.ms(3_000),
      );
      expect(sleeper.result.timedOut).toBe(true);
      expect(sleeper.settledMs, "exec settled by its deadline plus the grace").toBeLessThanOrEqual(
        sleeper.boundMs,
      );
      expect(sleeper.result.stdout, "the flood of a helper reaches no result").not.toContain(flood);

      // 137 without a memory kill: a provider that asks `cat` for the OOM counter meets the flood.
      const memory = ctx.enforced("memory")
        ? clampToLimits(ctx, "memory", 256 * 1024 * 1024)
        : undefined;
      const second = await hostileSession(memory === undefined ? {} : { memory });
      const started = performance.now();
      const killed = await ctx.provider.exec(second, ["/bin/.cadre-real/sh", "-c", "kill -9 $$"], {
        timeoutMs: ctx.ms(60_000),
      });
      expect(performance.now() - started).toBeLessThanOrEqual(ctx.ms(execKillGraceMs) + 10_000);
      expect(killed.exitCode).toBe(137);
      expect(killed.timedOut).toBe(false);
      expect(killed.limitExceeded, "a SIGKILL is not a memory kill").toBeUndefined();
      expect(killed.stdout).not.toContain(flood);
    },
    timeout(),
  );
}
