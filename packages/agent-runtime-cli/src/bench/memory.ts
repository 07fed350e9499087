import { readFile } from "node:fs/promises";
import { cgroupOfProcess, type IdleMemory, readCgroup } from "@cadre/agent-runtime-provider-utils";

/** The memory cgroup's usage of a process: memory.current on v2, memory.usage_in_bytes on v1. */
async function memoryCgroupUsage(pid: number): Promise<number | undefined> {
  const path = await cgroupOfProcess(pid, "memory");
  const reading = path === undefined ? undefined : await readCgroup(path);
  return reading?.memory.currentBytes;
}

async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

export const sandboxMemoryMethod =
  "memory cgroup usage of the session's sandbox (memory.usage_in_bytes on cgroup v1, memory.current on v2, page cache included) plus the VmRSS of its parent process (the containerd shim), averaged over idle sessions";

/**
 * Host memory of idle sandboxes, given the host pid of each one's first process. Sandboxes whose
 * cgroup cannot be read (another host, no permission) are skipped.
 */
export async function sandboxMemory(pids: readonly number[]): Promise<IdleMemory> {
  const totals: number[] = [];
  for (const pid of pids) {
    const cgroup = await memoryCgroupUsage(pid).catch(() => undefined);
    if (cgroup === undefined || !Number.isFinite(cgroup)) continue;
    const ppid = await parentPid(pid);
    const shim = ppid === undefined ? 0 : ((await rssBytes(ppid)) ?? 0);
    totals.push(cgroup + shim);
  }
  return {
    method: sandboxMemoryMethod,
    bytesPerSession: totals.length
      ? Math.round(totals.reduce((a, b) => a + b, 0) / totals.length)
      : null,
    samples: totals.length,
  };
}
