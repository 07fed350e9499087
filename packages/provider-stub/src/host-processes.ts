import { readdir, readFile, readlink } from "node:fs/promises";

/** One live host process as /proc/<pid>/stat shows it. */
export interface HostProcess {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process. */
  start: number;
}

/** The process `pid` while it lives (a zombie has ended); undefined once it is gone. */
export async function liveProcess(pid: number): Promise<HostProcess | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parseStat(pid, stat);
}

/** Whether the process of this pid and start time still runs (a reused pid is another one). */
export async function isAlive(process: { pid: number; start: number }): Promise<boolean> {
  return (await liveProcess(process.pid))?.start === process.start;
}

/** Every live process of this PID namespace's /proc; empty without a readable /proc. */
export async function liveProcesses(): Promise<HostProcess[]> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return [];
  }
  const found = await Promise.all(
    names.filter((name) => /^\d+$/.test(name)).map((name) => liveProcess(Number(name))),
  );
  return found.filter((entry) => entry !== undefined);
}

/** The live processes below `root` (started after it, however deep), from one look at /proc. */
export async function descendantsOf(root: HostProcess): Promise<HostProcess[]> {
  const all = await liveProcesses();
  const children = new Map<number, HostProcess[]>();
  for (const entry of all) {
    const siblings = children.get(entry.ppid);
    if (siblings) siblings.push(entry);
    else children.set(entry.ppid, [entry]);
  }
  const found: HostProcess[] = [];
  const queue = [root];
  for (let parent = queue.shift(); parent; parent = queue.shift()) {
    for (const child of children.get(parent.pid) ?? []) {
      // A child older than its parent is a pid the parent's pid had before: not its child.
      if (child.start < parent.start) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * A live process of a PID namespace below this one, by its pid there and its start time: its
 * pid here, or undefined. /proc/<pid>/status lists a process's pid in every namespace it is in
 * (`NSpid:`, this one first, its own last), and start times count from the same boot everywhere.
 */
export async function processInInnerNamespace(
  innerPid: number,
  start: number,
): Promise<HostProcess | undefined> {
  for (const entry of await liveProcesses()) {
    if (entry.start !== start) continue;
    const status = await readFile(`/proc/${entry.pid}/status`, "utf8").catch(() => "");
    const ids = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    if (ids && ids.length > 1 && Number(ids.at(-1)) === innerPid) return entry;
  }
  return undefined;
}

/** The kernel's boot id and this process's PID namespace: where a pid means something. */
export interface PidScope {
  boot: string;
  pidNamespace: string;
}

let ownScope: Promise<PidScope> | undefined;

/** This process's boot and PID namespace ("-" for what cannot be read); they never change. */
export function currentPidScope(): Promise<PidScope> {
  ownScope ??= (async () => {
    const boot = await readFile("/proc/sys/kernel/random/boot_id", "utf8").then(
      (text) => text.trim(),
      () => "-",
    );
    const link = await readlink("/proc/self/ns/pid").catch(() => "");
    const pidNamespace = /^pid:\[(\d+)\]$/.exec(link)?.[1] ?? "-";
    return { boot: /^[0-9a-f-]{8,64}$/.test(boot) ? boot : "-", pidNamespace };
  })();
  return ownScope;
}

function parseStat(pid: number, stat: string): HostProcess | undefined {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [state, ppid] = fields;
  if (state === "Z" || state === "X" || state === "x") return undefined;
  const start = Number(fields[19]);
  if (!Number.isFinite(start)) return undefined;
  return { pid, ppid: Number(ppid), start };
}
