import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Identity of a process as "host/boot/pidns/pid/start": the host name, the kernel's boot id, the
 * inode of the process's PID namespace, its pid there, and its start time in clock ticks since
 * boot. A pid means something only within one PID namespace of one boot; the start time makes a
 * reused pid count as a different owner. Parts that cannot be read are "-".
 */
export function currentOwner(): string {
  const self = localIdentity();
  return [
    hostname(),
    self.boot,
    self.pidNamespace,
    process.pid,
    processStartTime(process.pid) ?? 0,
  ].join("/");
}

export type OwnerStatus = "alive" | "gone" | "unknown";

/**
 * Whether the owner process still runs, judged only where that is certain: same host, same boot,
 * same PID namespace. Anything else (another host, another boot of a host with the same name,
 * another PID namespace such as a sibling container of one pod, an owner label in an older or
 * unreadable format) is "unknown", and only a TTL or `olderThanMs` reaps its sessions.
 */
export function ownerStatus(owner: string): OwnerStatus {
  const match = /^([^/]*)\/([^/]+)\/([^/]+)\/(\d+)\/(\d+)$/.exec(owner);
  if (!match) return "unknown";
  const [, host, boot, pidNamespace, pid, start] = match;
  const self = localIdentity();
  if (host !== hostname() || boot === "-" || pidNamespace === "-") return "unknown";
  if (boot !== self.boot || pidNamespace !== self.pidNamespace) return "unknown";
  const actualStart = processStartTime(Number(pid));
  if (actualStart === undefined) return "gone";
  return String(actualStart) === start || start === "0" ? "alive" : "gone";
}

let cachedIdentity: { boot: string; pidNamespace: string } | undefined;

/** The boot id and PID namespace of this process; neither changes while it runs. */
function localIdentity(): { boot: string; pidNamespace: string } {
  cachedIdentity ??= { boot: bootId(), pidNamespace: pidNamespaceId() };
  return cachedIdentity;
}

function bootId(): string {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return /^[0-9a-f-]{8,64}$/.test(id) ? id : "-";
  } catch {
    return "-";
  }
}

function pidNamespaceId(): string {
  try {
    // "pid:[4026531836]"
    const inode = /^pid:\[(\d+)\]$/.exec(readlinkSync("/proc/self/ns/pid"))?.[1];
    return inode ?? "-";
  } catch {
    return "-";
  }
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
