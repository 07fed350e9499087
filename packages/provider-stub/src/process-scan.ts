import { readdir, readFile, readlink } from "node:fs/promises";

/** One host process as /proc shows it. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, it names one process. */
  start: number;
  /**
   * The environment it was started with; "mid-exec" while execve replaces it (reads as empty),
   * undefined when it has none (zombie, kernel thread) or it cannot be read.
   */
  environ: Buffer | "mid-exec" | undefined;
  /** Its working directory, undefined when it cannot be read. */
  cwd: string | undefined;
}

/** Every live process but this one and zombies; empty without a readable /proc. */
export async function scanProcesses(): Promise<ProcessEntry[]> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return [];
  }
  const entries = await Promise.all(
    names.filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid).map(readEntry),
  );
  return entries.filter((e) => e !== undefined);
}

async function readEntry(pid: string): Promise<ProcessEntry | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [state, ppid, pgrp] = fields;
  if (state === "Z" || state === "X") return undefined;
  const [environ, cwd] = await Promise.all([
    readEnviron(pid, ppid),
    readlink(`/proc/${pid}/cwd`).catch(() => undefined),
  ]);
  return {
    pid: Number(pid),
    ppid: Number(ppid),
    pgrp: Number(pgrp),
    start: Number(fields[19]),
    environ,
    cwd,
  };
}

async function readEnviron(pid: string, ppid: string | undefined) {
  try {
    const environ = await readFile(`/proc/${pid}/environ`);
    if (environ.length > 0) return environ;
    // Kernel threads (pid 2 and its children) have no environment at all.
    return pid === "2" || ppid === "2" ? undefined : "mid-exec";
  } catch {
    return undefined; // gone, or another user's process
  }
}

/** Whether a NUL-separated environ holds exactly the entry `name=value`. */
export function hasEntry(environ: Buffer, entry: string): boolean {
  const needle = Buffer.from(`${entry}\0`);
  const padded = environ.at(-1) === 0 ? environ : Buffer.concat([environ, Buffer.from([0])]);
  let at = padded.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || padded[at - 1] === 0) return true;
    at = padded.indexOf(needle, at + 1);
  }
  return false;
}

/** Whether a NUL-separated environ holds a variable `name`, whatever its value. */
export function hasVariable(environ: Buffer, name: string): boolean {
  const needle = Buffer.from(`${name}=`);
  let at = environ.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || environ[at - 1] === 0) return true;
    at = environ.indexOf(needle, at + 1);
  }
  return false;
}

/** Clock ticks since boot now (USER_HZ is 100 on every Linux architecture Node runs on). */
export async function ticksSinceBoot(): Promise<number | undefined> {
  try {
    const uptime = Number((await readFile("/proc/uptime", "utf8")).split(" ")[0]);
    return Number.isFinite(uptime) ? Math.floor(uptime * 100) : undefined;
  } catch {
    return undefined;
  }
}
