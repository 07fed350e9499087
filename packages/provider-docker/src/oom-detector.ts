import type Docker from "dockerode";
import { execCapture } from "./exec-capture.js";

/**
 * Tells whether an exec that ended with 137 was killed by the session's memory limit. Docker
 * records OOM kills only for a container's main process, so for execs the kernel's counter of the
 * container's own memory cgroup is read from inside (cgroup v1: memory.oom_control, v2:
 * memory.events) and compared with the count seen last for that session. Under gVisor the limit
 * kills the whole sandbox, which Docker does record (State.OOMKilled).
 */
export class OomDetector {
  private readonly seen = new Map<string, number>();

  constructor(private readonly cgroupVersion: () => Promise<string>) {}

  async wasOomKilled(sessionId: string, container: Docker.Container): Promise<boolean> {
    const state = await container.inspect().then(
      (info) => info.State,
      () => undefined,
    );
    if (state === undefined) return false;
    if (!state.Running) return state.OOMKilled === true;
    const count = await this.readCount(container);
    if (count === undefined) return false;
    const before = this.seen.get(sessionId) ?? 0;
    this.seen.set(sessionId, count);
    return count > before;
  }

  forget(sessionId: string): void {
    this.seen.delete(sessionId);
  }

  private async readCount(container: Docker.Container): Promise<number | undefined> {
    const file =
      (await this.cgroupVersion()) === "2"
        ? "/sys/fs/cgroup/memory.events"
        : "/sys/fs/cgroup/memory/memory.oom_control";
    try {
      const { exitCode, stdout } = await execCapture(container, ["cat", file]);
      const match = /^oom_kill (\d+)$/m.exec(stdout);
      return exitCode === 0 && match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}
