import { constants } from "node:os";
import { Readable } from "node:stream";
import {
  type ExecKillReport,
  PolicyValidationError,
  type ProcessExit,
  type ProcessHandle,
  parseSignal,
} from "@cadre/agent-runtime-contract";
import type { AgentProcessChannel, AgentProcessExit } from "@cadre/agent-runtime-sandbox-agent";
import { ProcessDetachedError } from "@cadre/agent-runtime-sandbox-agent";
import { agentKillMethod } from "../agent-exec.js";
import { signalForExitCode } from "../signals.js";

/** What a handle needs of the processes API: following the process again after a detach. */
export interface Refollow {
  /** Follows the process again from its output's end, and resolves with its end. */
  waitAgain(): Promise<ProcessExit>;
}

/** A Readable that a process's output fills as its reader takes it. */
export class OutputStream extends Readable {
  private wake: (() => void) | undefined;

  constructor() {
    super({ highWaterMark: 256 * 1024 });
    // Errors reach the caller through wait(); a stream nobody listens to must not crash on them.
    this.on("error", () => {});
  }

  /** Pushes a chunk; answers with a promise while the reader is behind. */
  offer(chunk: Buffer): Promise<void> | undefined {
    if (this.destroyed) return undefined;
    if (this.push(chunk)) return undefined;
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  override _read(): void {
    const resume = this.wake;
    this.wake = undefined;
    resume?.();
  }

  /** The end of the output: the last byte, or an error. */
  finish(error?: Error): void {
    if (this.destroyed || this.readableEnded) return;
    if (error) this.destroy(error);
    else this.push(null);
    this.wake?.();
  }
}

/**
 * The contract's ProcessHandle over one channel of the agent: output as Readables held back by
 * their readers, stdin, signals, the terminal's size, and the end. `scope` is the call that holds
 * the session's agent for as long as the handle follows the process (it settles with the end, with
 * the session's error, or with ProcessDetachedError).
 */
export class AgentProcessHandle implements ProcessHandle {
  readonly stdout = new OutputStream();
  readonly stderr = new OutputStream();
  missedBytes: number;
  private channel: AgentProcessChannel | undefined;
  private scope: Promise<AgentProcessExit> | undefined;
  private detached = false;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    readonly pty: boolean,
    private readonly providerId: string,
    private readonly refollow: Refollow,
    missed = 0,
  ) {
    this.missedBytes = missed;
    if (pty) this.stderr.finish();
  }

  get pid(): number {
    return this.channel?.pid ?? 0;
  }

  /** The output callbacks the channel is opened with. */
  output() {
    return {
      onOutput: (stream: "stdout" | "stderr", chunk: Buffer) =>
        (stream === "stdout" ? this.stdout : this.stderr).offer(chunk),
      onGap: (missed: number) => {
        this.missedBytes += missed;
      },
    };
  }

  /** Binds the handle to its open channel and to the call that holds the agent for it. */
  follow(channel: AgentProcessChannel, scope: Promise<AgentProcessExit>): void {
    this.channel = channel;
    this.scope = scope;
    scope.then(
      () => {
        this.stdout.finish();
        this.stderr.finish();
      },
      (error: unknown) => {
        const err = error instanceof Error ? error : new Error(String(error));
        // A detach ends the streams quietly: the process goes on, this handle stops reading it.
        this.stdout.finish(this.detached ? undefined : err);
        this.stderr.finish(this.detached ? undefined : err);
      },
    );
  }

  async wait(): Promise<ProcessExit> {
    // Output nobody reads is discarded, so that the end can come.
    for (const stream of [this.stdout, this.stderr])
      if (stream.readableFlowing === null) stream.resume();
    if (this.detached || !this.scope) return this.refollow.waitAgain();
    try {
      return processExitOf(await this.scope);
    } catch (error) {
      if (error instanceof ProcessDetachedError && this.detached) return this.refollow.waitAgain();
      throw error;
    }
  }

  async write(data: string | Uint8Array): Promise<void> {
    await this.open().write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
  }

  async closeStdin(): Promise<void> {
    this.open().closeStdin();
  }

  async kill(signal?: NodeJS.Signals | number): Promise<void> {
    const number = parseSignal(
      signal,
      constants.signals as Record<string, number>,
      this.providerId,
    );
    this.open().signal(number === "tree" ? undefined : number);
  }

  async resize(rows: number, cols: number): Promise<void> {
    const side = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000;
    if (!side(rows) || !side(cols)) {
      throw new PolicyValidationError(
        [{ path: side(rows) ? "cols" : "rows", message: "must be a whole number from 1 to 1000" }],
        { subject: "resize request", providerId: this.providerId },
      );
    }
    this.open().resize(rows, cols);
  }

  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    this.channel?.detach();
    await this.scope?.catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.detach();
  }

  private open(): AgentProcessChannel {
    if (!this.channel || this.detached) {
      throw new PolicyValidationError(
        [
          {
            path: "handle",
            message: "this handle was detached; attach() to follow the process again",
          },
        ],
        { subject: "process handle", providerId: this.providerId },
      );
    }
    return this.channel;
  }
}

export function processExitOf(exit: AgentProcessExit): ProcessExit {
  const result: ProcessExit = { exitCode: exit.exitCode, timedOut: exit.timedOut };
  const signal = exit.signal ? signalForExitCode(128 + exit.signal) : undefined;
  if (signal) result.signal = signal;
  if (exit.killed) {
    const kill: ExecKillReport = { complete: exit.killed.complete, method: agentKillMethod };
    if (exit.killed.survivors > 0) kill.survivors = exit.killed.survivors;
    result.kill = kill;
  }
  return result;
}
