import { readFile } from "node:fs/promises";

/**
 * How many processes the kernel's OOM killer killed in a session's cgroup on this host (cgroup
 * v2 memory.events, or v1 memory.oom_control). Undefined when the cgroup is not on this host (a
 * Kata VM's guest cgroups are not) or is already gone.
 */
export async function oomKillCount(cgroupsPath: string): Promise<number | undefined> {
  const candidates = [
    [`/sys/fs/cgroup${cgroupsPath}/memory.events`, /^oom_kill (\d+)$/m],
    [`/sys/fs/cgroup/memory${cgroupsPath}/memory.oom_control`, /^oom_kill (\d+)$/m],
  ] as const;
  for (const [file, pattern] of candidates) {
    try {
      const match = pattern.exec(await readFile(file, "utf8"));
      if (match) return Number(match[1]);
    } catch {
      // Not this cgroup version, or not here.
    }
  }
  return undefined;
}
