import { readdir, readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";

/**
 * Every process the stub starts carries two environment variables, inherited by its whole tree:
 * the session id and a per-exec token. A descendant that left the process group (setsid, double
 * fork) is still found by scanning /proc/<pid>/environ for them.
 */
export const sessionTag = "CADRE_STUB_SESSION";
export const execTag = "CADRE_EXEC_ID";

/** Live processes whose environment holds `name=value` (zombies have an empty environ). */
export async function findTaggedProcesses(name: string, value: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return []; // no procfs: only the process group can be killed
  }
  const needle = Buffer.from(`${name}=${value}\0`);
  const pids = entries.filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  const found = await Promise.all(
    pids.map(async (pid) => {
      try {
        const environ = await readFile(`/proc/${pid}/environ`);
        return hasVariable(environ, needle) ? Number(pid) : undefined;
      } catch {
        return undefined; // gone, or another user's process
      }
    }),
  );
  return found.filter((pid) => pid !== undefined);
}

function hasVariable(environ: Buffer, needle: Buffer): boolean {
  // environ is NUL-separated and usually NUL-terminated; match whole entries only.
  const padded = environ.at(-1) === 0 ? environ : Buffer.concat([environ, Buffer.from([0])]);
  let at = padded.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || padded[at - 1] === 0) return true;
    at = padded.indexOf(needle, at + 1);
  }
  return false;
}

/**
 * SIGKILLs the process groups and every process tagged `name=value`, and returns once no tagged
 * process is alive. Repeats because a dying tree may still fork between two scans.
 */
export async function killTagged(
  name: string,
  value: string,
  processGroups: Iterable<number> = [],
): Promise<void> {
  const groups = [...processGroups];
  for (let round = 0; round < 200; round++) {
    for (const group of groups) signal(-group);
    const alive = await findTaggedProcesses(name, value);
    if (alive.length === 0) return;
    for (const pid of alive) signal(pid);
    // SIGKILL is delivered asynchronously: give the kernel a moment before the next scan.
    await delay(round < 10 ? 2 : 20);
  }
}

function signal(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
