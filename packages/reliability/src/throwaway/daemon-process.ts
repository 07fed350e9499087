import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { openSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

/**
 * A daemon this package starts and stops itself (never a shared one): spawned with its output in
 * a log file, stopped with SIGTERM and, past a grace period, SIGKILL.
 */
export class DaemonProcess {
  private child: ChildProcess | undefined;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the daemon, then waits until `ready` answers true (no event says it listens). */
  async start(ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const log = openSync(this.logFile, "a");
    const child = spawn(this.command, this.args, { stdio: ["ignore", log, log], env: this.env });
    this.child = child;
    const exited = once(child, "exit");
    const deadline = Date.now() + timeoutMs;
    while (!(await ready().catch(() => false))) {
      if (!this.running) {
        await exited;
        throw new Error(`${this.name} exited at start; see ${this.logFile}`);
      }
      if (Date.now() > deadline)
        throw new Error(`${this.name} was not ready within ${timeoutMs} ms; see ${this.logFile}`);
      await delay(100);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
