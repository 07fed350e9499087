import { readdir, readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";

/**
 * Every process the stub starts carries two environment variables, inherited by its whole tree:
 * the session id and a per-exec token. A descendant that left the process group (setsid, double
 * fork) is still found by scanning /proc/<pid>/environ for them.
 */
export const sessionTag = "CADRE_STUB_SESSION";
export { execTagVariable as execTag } from "@cadre/agent-runtime-provider-utils";

/** Live processes whose environment holds `name=value` (zombies have an empty environ). */
export async function findTaggedProcesses(name: string, value: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return []; // no procfs: only the process group can be killed
  }
  const needle = Buffer.from(`${name}=${value}\0`);
  let pending = entries.filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  const found: number[] = [];
  // A process in the middle of execve reads as an empty environ; read those again.
  for (let attempt = 0; attempt < 3 && pending.length > 0; attempt++) {
    if (attempt > 0) await delay(1);
    const reads = await Promise.all(
      pending.map(async (pid) => [pid, await readEnviron(pid)] as const),
    );
    pending = [];
    for (const [pid, environ] of reads) {
      if (environ === "mid-exec") pending.push(pid);
      else if (environ && hasVariable(environ, needle)) found.push(Number(pid));
    }
  }
  return found;
}

/** The environ, undefined when the process is gone, a zombie, a kernel thread or not readable. */
async function readEnviron(pid: string): Promise<Buffer | "mid-exec" | undefined> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`);
    if (environ.length > 0) return environ;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Zombies and kernel threads (children of kthreadd, pid 2) have no environment at all.
    if (state === "Z" || state === "X" || parent === "2" || pid === "2") return undefined;
    return "mid-exec";
  } catch {
    return undefined; // gone, or another user's process
  }
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
