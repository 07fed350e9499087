import { expect, it } from "vitest";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.hostile;

/**
 * What a command tries against the processes that serve it: PID 1 of its session (the agent, an
 * init) and its own parent (whatever started it). Each attempt prints `<what> <pid>=done` or
 * `=denied`, and the last line counts the descriptors tried. `kill -0` asks the kernel for
 * permission to signal without sending anything; the SIGKILL is then real. Opening one of their
 * descriptors through /proc (the host's link is among PID 1's) would let a command read the
 * host's requests or answer in its name; one that is /dev/null gives nothing and is skipped.
 */
function attackArgv(): string[] {
  const attempt = (what: string, command: string) =>
    `if ${command} >/dev/null 2>&1; then echo "${what}=done"; else echo "${what}=denied"; fi`;
  const script = [
    "tried=0",
    "for t in 1 $PPID; do",
    "  for fd in /proc/$t/fd/*; do",
    '    [ -e "$fd" ] || continue',
    '    [ "$(readlink "$fd" 2>/dev/null)" = /dev/null ] && continue',
    "    tried=$((tried+1))",
    `    ${attempt("read $fd", '(exec 3<"$fd")')}`,
    `    ${attempt("write $fd", '(exec 3>"$fd")')}`,
    "  done",
    `  ${attempt("signal $t", "kill -0 $t")}`,
    `  ${attempt("memory $t", "head -c 1 /proc/$t/mem")}`,
    `  ${attempt("kill $t", "kill -9 $t")}`,
    "done",
    'echo "tried $tried"',
  ].join("\n");
  return ["sh", "-c", script];
}

/** Probes that a command cannot reach the processes that run it. */
export function registerSessionInitProbes(ctx: ConformanceContext): void {
  it(
    names.sessionInit,
    async () => {
      if (ctx.report.isolation === "none") {
        // Without a boundary every process is the host's, and the caller's own: nothing to hold.
        return;
      }
      const id = await ctx.start();
      const result = await ctx.provider.exec(id, attackArgv(), { timeoutMs: ctx.ms(30_000) });
      const lines = result.stdout.trim().split("\n");
      // Both processes were there to attack: three attempts each, at least.
      expect(
        lines.filter((line) => /^(signal|memory|kill) /.test(line)),
        result.stderr,
      ).toHaveLength(6);
      const done = lines.filter((line) => line.endsWith("=done"));
      expect(done, "what a command managed against PID 1 and its parent").toEqual([]);
      // Both are still there, and the session still serves.
      const again = await ctx.provider.exec(id, ["sh", "-c", "echo alive"]);
      expect([again.exitCode, again.stdout]).toEqual([0, "alive\n"]);
      expect((await ctx.provider.getSession(id)).state).toBe("running");
    },
    ctx.ms(120_000),
  );
}
