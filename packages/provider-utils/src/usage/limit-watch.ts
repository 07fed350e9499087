import { readCgroup } from "./cgroup-usage.js";

/** A limit a command hit, and what its cgroup saw of it. */
export interface LimitSeen {
  /** The limit (bytes, processes); undefined where the kernel does not say. */
  limit?: number;
  /** What was seen: the peak bytes, the processes running. */
  value?: number;
}

export function limitSeen(limit: number | undefined, value: number | undefined): LimitSeen {
  return { ...(limit !== undefined ? { limit } : {}), ...(value !== undefined ? { value } : {}) };
}

/**
 * Whether a session's cgroup hit its memory or pids limit since the last look: the kernel's OOM
 * kill count and the forks the pids limit refused, compared with what the last look saw. Read only
 * after a command failed, so a command that succeeds costs no read; a hit is reported once, to the
 * first failed command that looks after it. Read from the host, out of the tenant's reach.
 */
export class LimitWatch {
  private constructor(
    readonly cgroupPath: string,
    private oomKillsSeen: number,
    private pidsRefusedSeen: number,
  ) {}

  /** A session this process just created: its cgroup is new and has counted nothing yet. */
  static fresh(cgroupPath: string): LimitWatch {
    return new LimitWatch(cgroupPath, 0, 0);
  }

  /** A session made earlier, maybe by another process: what its counters hold now is old. */
  static async adopt(cgroupPath: string): Promise<LimitWatch> {
    const reading = await readCgroup(cgroupPath);
    return new LimitWatch(cgroupPath, reading?.oomKills ?? 0, reading?.pids.refused ?? 0);
  }

  /** The memory limit and the peak the cgroup saw, when the OOM killer struck since the last look. */
  async memoryKilled(): Promise<LimitSeen | undefined> {
    const reading = await readCgroup(this.cgroupPath);
    const count = reading?.oomKills;
    if (count === undefined || count <= this.oomKillsSeen) return undefined;
    this.oomKillsSeen = count;
    return limitSeen(reading?.memory.limitBytes, reading?.memory.peakBytes);
  }

  /** The pids limit and the processes running, when it refused a fork since the last look. */
  async pidsRefused(): Promise<LimitSeen | undefined> {
    const reading = await readCgroup(this.cgroupPath);
    const count = reading?.pids.refused;
    if (count === undefined || count <= this.pidsRefusedSeen) return undefined;
    this.pidsRefusedSeen = count;
    return limitSeen(reading?.pids.limit, reading?.pids.current);
  }
}
