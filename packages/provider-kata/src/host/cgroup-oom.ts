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

/**
 * Whether the OOM killer struck a session since the last look. Read only after a command failed,
 * so a successful exec costs no file read; a kill is reported once, to the first failed command
 * that looks after it (as Docker's provider does).
 */
export class OomWatch {
  private constructor(
    private readonly cgroupsPath: string,
    private seen: number,
  ) {}

  /** A session this process just created: its cgroup is new and has counted no kill yet. */
  static fresh(cgroupsPath: string): OomWatch {
    return new OomWatch(cgroupsPath, 0);
  }

  /** A session made earlier, maybe by another process: what its counter holds now is old. */
  static async adopt(cgroupsPath: string): Promise<OomWatch> {
    return new OomWatch(cgroupsPath, (await oomKillCount(cgroupsPath)) ?? 0);
  }

  async killedSinceLastLook(): Promise<boolean> {
    const count = await oomKillCount(this.cgroupsPath);
    if (count === undefined || count <= this.seen) return false;
    this.seen = count;
    return true;
  }
}
