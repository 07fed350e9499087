import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Identity of a process as "host/pid/start", where start is the process's start time in clock
 * ticks since boot. The start time makes a reused pid count as a different owner.
 */
export function currentOwner(): string {
  return `${hostname()}/${process.pid}/${processStartTime(process.pid) ?? 0}`;
}

export type OwnerStatus = "alive" | "gone" | "unknown";

/** Whether the owner process still runs. Owners on another host are "unknown" (only TTLs reap them). */
export function ownerStatus(owner: string): OwnerStatus {
  const match = /^(.*)\/(\d+)\/(\d+)$/.exec(owner);
  if (!match) return "unknown";
  const [, host, pid, start] = match;
  if (host !== hostname()) return "unknown";
  const actualStart = processStartTime(Number(pid));
  if (actualStart === undefined) return "gone";
  return String(actualStart) === start || start === "0" ? "alive" : "gone";
}

function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}
