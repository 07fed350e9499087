import { expect, it } from "vitest";
import { forkProbeArgv } from "../../probes.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.hostile;

/** Size in bytes of the filesystem mounted exactly at /tmp, or undefined when /tmp is no mount. */
const tmpMountArgv = [
  "sh",
  "-c",
  "grep -q ' /tmp ' /proc/mounts && df -k /tmp | awk 'NR==2 {print $2 * 1024}'; true",
];

/** Probes that a session whose policy is silent still has limits, and the ones reported. */
export function registerDefaultsProbes(ctx: ConformanceContext): void {
  it(
    names.defaults,
    async () => {
      const defaults = ctx.report.defaults;
      if (ctx.report.isolation === "none") return;
      expect(defaults.openFiles, "defaults.openFiles").toBeGreaterThan(0);
      if (ctx.enforced("pids")) expect(defaults.pids, "defaults.pids").toBeGreaterThan(0);

      const id = await ctx.start();
      const ulimit = await ctx.provider.exec(id, ["sh", "-c", "ulimit -n; ulimit -Hn"]);
      const [soft, hard] = ulimit.stdout.trim().split("\n").map(Number);
      expect(soft, "open files (soft)").toBe(defaults.openFiles);
      expect(hard, "open files (hard)").toBeLessThanOrEqual(defaults.openFiles ?? 0);

      const sessions = [id];
      if (ctx.enforced("readOnlyRootfs")) sessions.push(await ctx.start({ readOnlyRootfs: true }));
      if (defaults.tmpBytes === undefined) {
        // Only a read-only session's /tmp is then a sized tmpfs, and that size is not reported:
        // it must at least be a mount, which the loop below checks.
        expect(ctx.enforced("readOnlyRootfs"), "a /tmp bound somewhere").toBe(true);
      }
      for (const [i, session] of sessions.entries()) {
        const size = (await ctx.provider.exec(session, tmpMountArgv)).stdout.trim();
        if (i > 0) expect(size, "a read-only session's /tmp is a mount of its own").not.toBe("");
        // Without tmpBytes the report says /tmp is bounded otherwise (gVisor's own, by memory).
        if (size !== "" && defaults.tmpBytes !== undefined) {
          expect(Number(size), "the size of /tmp").toBeLessThanOrEqual(defaults.tmpBytes);
        }
      }

      if (defaults.pids !== undefined) {
        const attempts = defaults.pids + 16;
        const probe = await ctx.provider.exec(
          id,
          forkProbeArgv(attempts, "/tmp/cadre-fork-probe"),
          {
            timeoutMs: ctx.ms(120_000),
          },
        );
        const reached = Number(/reached (\d+)/.exec(probe.stdout)?.[1]);
        expect(reached, probe.stdout + probe.stderr).toBeGreaterThan(0);
        expect(reached, "processes started under the default pids limit").toBeLessThan(attempts);
        expect(reached).toBeLessThanOrEqual(defaults.pids);
      }
    },
    ctx.ms(240_000),
  );
}
