import { readFile } from "node:fs/promises";

/**
 * What the kernel counts for a session's cgroup on this host, read from outside the sandbox:
 * never by a helper inside it, whose output the tenant could forge. Each field is undefined where
 * the kernel does not keep it (an older kernel, a controller not mounted).
 */
export interface CgroupReading {
  memory: { currentBytes?: number; peakBytes?: number; limitBytes?: number };
  /** Processes the OOM killer killed in the cgroup. */
  oomKills?: number;
  pids: { current?: number; limit?: number /** forks the limit refused */; refused?: number };
  /** CPU time of every process of the cgroup together, in nanoseconds. */
  cpuNs?: number;
}

const hostRoot = "/sys/fs/cgroup";

/**
 * The counters of the cgroup at `path` (below the hierarchy's root: "/docker/<id>",
 * "/system.slice/docker-<id>.scope", a containerd spec's cgroupsPath), on cgroup v2 or v1.
 * Undefined when the cgroup is not on this host (a Kata VM's guest cgroups are not) or is gone.
 */
export async function readCgroup(
  path: string,
  root: string = hostRoot,
): Promise<CgroupReading | undefined> {
  const clean = `/${path}`.replace(/\/{2,}/g, "/").replace(/\/$/, "");
  if (clean.split("/").includes("..")) return undefined;
  return (await isV2(root, clean)) ? readV2(root, clean) : readV1(root, clean);
}

async function text(file: string): Promise<string | undefined> {
  return readFile(file, "utf8").catch(() => undefined);
}

/** A whole number from a counter file; "max" (no limit) and anything else are undefined. */
function count(value: string | undefined): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed || !/^\d+$/.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The number after `key` on its own line of a flat-keyed file (memory.events, cpu.stat). */
function keyed(body: string | undefined, key: string): number | undefined {
  const match = body ? new RegExp(`^${key} (\\d+)$`, "m").exec(body) : null;
  return match ? count(match[1]) : undefined;
}

async function isV2(root: string, path: string): Promise<boolean> {
  return (await text(`${root}${path}/cgroup.controllers`)) !== undefined;
}

async function readV2(root: string, path: string): Promise<CgroupReading> {
  const at = (file: string) => text(`${root}${path}/${file}`);
  const [current, peak, max, events, pidsCurrent, pidsMax, pidsEvents, cpu] = await Promise.all(
    [
      "memory.current",
      "memory.peak",
      "memory.max",
      "memory.events",
      "pids.current",
      "pids.max",
      "pids.events",
      "cpu.stat",
    ].map(at),
  );
  const usec = keyed(cpu, "usage_usec");
  return {
    memory: { currentBytes: count(current), peakBytes: count(peak), limitBytes: count(max) },
    oomKills: keyed(events, "oom_kill"),
    pids: { current: count(pidsCurrent), limit: count(pidsMax), refused: keyed(pidsEvents, "max") },
    cpuNs: usec === undefined ? undefined : usec * 1000,
  };
}

async function readV1(root: string, path: string): Promise<CgroupReading | undefined> {
  const at = (controller: string, file: string) => text(`${root}/${controller}${path}/${file}`);
  const [usage, maxUsage, limit, oomControl, pidsCurrent, pidsMax, pidsEvents, cpu] =
    await Promise.all([
      at("memory", "memory.usage_in_bytes"),
      at("memory", "memory.max_usage_in_bytes"),
      at("memory", "memory.limit_in_bytes"),
      at("memory", "memory.oom_control"),
      at("pids", "pids.current"),
      at("pids", "pids.max"),
      at("pids", "pids.events"),
      at("cpuacct", "cpuacct.usage"),
    ]);
  if ([usage, pidsCurrent, cpu].every((v) => v === undefined)) return undefined;
  const limitBytes = count(limit);
  return {
    memory: {
      currentBytes: count(usage),
      peakBytes: count(maxUsage),
      // v1 says "no limit" with a page-rounded maximum of the counter.
      limitBytes: limitBytes !== undefined && limitBytes < 2 ** 62 ? limitBytes : undefined,
    },
    oomKills: keyed(oomControl, "oom_kill"),
    pids: { current: count(pidsCurrent), limit: count(pidsMax), refused: keyed(pidsEvents, "max") },
    cpuNs: count(cpu),
  };
}

/** A session's usage as the contract gives it (SessionStats' numbers), from its cgroup's counters. */
export function usageOfCgroup(reading: CgroupReading): {
  cpuSeconds?: number;
  memoryBytes?: number;
  peakMemoryBytes?: number;
  memoryLimitBytes?: number;
  pids?: number;
  pidsLimit?: number;
} {
  const defined = <T extends Record<string, number | undefined>>(fields: T) =>
    Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<
      Record<keyof T, number>
    >;
  return defined({
    cpuSeconds: reading.cpuNs === undefined ? undefined : reading.cpuNs / 1e9,
    memoryBytes: reading.memory.currentBytes,
    peakMemoryBytes: reading.memory.peakBytes,
    memoryLimitBytes: reading.memory.limitBytes,
    pids: reading.pids.current,
    pidsLimit: reading.pids.limit,
  });
}
