import { readFile } from "node:fs/promises";
import type Docker from "dockerode";
import { runHelper } from "./exec-capture.js";
import type { HostFacts } from "./host-facts.js";

/** Limits of the fallback read inside the session (a remote daemon): it runs the tenant's `cat`. */
const inSandboxRead = { timeoutMs: 2000, maxOutputBytes: 4096 };

const oomKillLine = /^oom_kill (\d+)$/m;

/**
 * Where the kernel's OOM counter of a container's memory cgroup is on the daemon's host: cgroup
 * v1 memory.oom_control or v2 memory.events, under the daemon's cgroup driver and the container's
 * cgroup parent (cgroupfs: <parent or /docker>/<id>; systemd: <slice>/docker-<id>.scope). The
 * path holds the container's full id, so a file found there is that container's.
 */
export function oomCounterPath(
  facts: Pick<HostFacts, "cgroupVersion" | "cgroupDriver">,
  containerId: string,
  cgroupParent: string | undefined,
): string {
  const v2 = facts.cgroupVersion === "2";
  const root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
  const file = v2 ? "memory.events" : "memory.oom_control";
  const group =
    facts.cgroupDriver === "systemd"
      ? `${systemdSlicePath(cgroupParent || "system.slice")}/docker-${containerId}.scope`
      : `${cgroupParent || "/docker"}/${containerId}`;
  return `${root}/${group}/${file}`.replace(/\/{2,}/g, "/");
}

/** systemd nests slices by their dashes: "a-b.slice" lives in "a.slice/a-b.slice". */
function systemdSlicePath(slice: string): string {
  const name = slice.replace(/\.slice$/, "");
  const parts = name.split("-");
  return parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.slice`).join("/");
}

/**
 * Tells whether an exec that ended with 137 was killed by the session's memory limit. Docker
 * records OOM kills only for a container's main process, so for execs the kernel's counter of the
 * container's own memory cgroup is compared with the count seen last for that session. It is read
 * from the host's cgroup files, out of the tenant's reach, when the daemon's cgroups are visible
 * here (a local daemon); else, for a remote daemon, by `cat` inside the session with a time limit
 * and an output cap, which a tenant that replaced `cat` can fool about its own session. Under
 * gVisor the limit kills the whole sandbox, which Docker does record (State.OOMKilled).
 */
export class OomDetector {
  private readonly seen = new Map<string, number>();

  constructor(private readonly facts: () => Promise<HostFacts>) {}

  async wasOomKilled(sessionId: string, container: Docker.Container): Promise<boolean> {
    const info = await container.inspect().catch(() => undefined);
    if (info === undefined) return false;
    if (!info.State.Running) return info.State.OOMKilled === true;
    const count = await this.readCount(container, info);
    if (count === undefined) return false;
    const before = this.seen.get(sessionId) ?? 0;
    this.seen.set(sessionId, count);
    return count > before;
  }

  forget(sessionId: string): void {
    this.seen.delete(sessionId);
  }

  private async readCount(
    container: Docker.Container,
    info: Docker.ContainerInspectInfo,
  ): Promise<number | undefined> {
    const facts = await this.facts().catch(() => undefined);
    if (!facts) return undefined;
    const hostFile = oomCounterPath(facts, info.Id, info.HostConfig.CgroupParent);
    const onHost = await readFile(hostFile, "utf8").catch(() => undefined);
    if (onHost !== undefined) return counterIn(onHost);
    const inside = facts.cgroupVersion === "2" ? "memory.events" : "memory/memory.oom_control";
    try {
      const { exitCode, stdout } = await runHelper(
        container,
        ["cat", `/sys/fs/cgroup/${inside}`],
        inSandboxRead,
      );
      return exitCode === 0 ? counterIn(stdout) : undefined;
    } catch {
      return undefined;
    }
  }
}

function counterIn(text: string): number | undefined {
  const match = oomKillLine.exec(text);
  return match ? Number(match[1]) : undefined;
}
