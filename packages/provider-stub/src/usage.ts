import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { descendantsOf, type HostProcess } from "./host-processes.js";

/** Clock ticks per second of /proc's times (USER_HZ, 100 on every Linux the stub runs on). */
const ticksPerSecond = 100;
/** Entries a size count of the scratch directory walks at most; past them it says nothing. */
const maxEntries = 100_000;

/**
 * What a stub session uses, from /proc: the CPU time of its agent and everything below it (the
 * ended ones through the agent's own counts of the children it waited for), their resident memory
 * now, and how many run. The stub has no cgroup, so there is no peak and no limit.
 */
export async function processTreeUsage(
  agent: HostProcess,
): Promise<{ cpuSeconds?: number; memoryBytes?: number; pids: number }> {
  const tree = [agent, ...(await descendantsOf(agent))];
  let ticks = 0;
  let rssKiB = 0;
  let counted = 0;
  for (const process of tree) {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${process.pid}/stat`, "utf8").catch(() => undefined),
      readFile(`/proc/${process.pid}/status`, "utf8").catch(() => undefined),
    ]);
    if (!stat) continue; // ended meanwhile
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    // utime and stime; for the agent also what its waited-for children used (cutime, cstime).
    const own = Number(fields[11]) + Number(fields[12]);
    const children = process === agent ? Number(fields[13]) + Number(fields[14]) : 0;
    if (Number.isFinite(own)) ticks += own;
    if (Number.isFinite(children)) ticks += children;
    const rss = status ? /^VmRSS:\s+(\d+) kB$/m.exec(status) : null;
    if (rss) rssKiB += Number(rss[1]);
    counted++;
  }
  return { cpuSeconds: ticks / ticksPerSecond, memoryBytes: rssKiB * 1024, pids: counted };
}

/** The bytes of the files below `dir` (links not followed), or undefined past maxEntries. */
export async function directoryBytes(dir: string): Promise<number | undefined> {
  let total = 0;
  let entries = 0;
  const queue = [dir];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    const names = await readdir(at).catch(() => [] as string[]);
    for (const name of names) {
      if (++entries > maxEntries) return undefined;
      const path = join(at, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) queue.push(path);
      else if (st.isFile()) total += st.size;
    }
  }
  return total;
}
