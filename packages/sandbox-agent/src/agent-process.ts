import type { Frame } from "./frames.js";
import {
  type AttachedFrame,
  agentFrame,
  decodeAttached,
  decodeExit,
  hostFrame,
  MalformedFrameError,
} from "./frames.js";

/** Stdin bytes in flight to a process at most (the agent holds up to 1 MiB per process). */
const stdinWindow = 512 * 1024;
const stdinChunk = 32 * 1024;

/** How a process ended, as its EXIT frame says. */
export interface AgentProcessExit {
  exitCode: number;
  signal: number;
  timedOut: boolean;
  /** Set when the agent killed it (its deadline, or a kill of its whole tree). */
  killed?: { complete: boolean; survivors: number };
  /** errno of a program that could not start. */
  startErrno?: number;
}

/** What a host does with a process's output as it comes. */
export interface ProcessOutput {
  /** A promise it returns holds the agent back (for this host only) until it settles. */
  onOutput(stream: "stdout" | "stderr", chunk: Buffer): unknown;
  /** The ring dropped output before this host had it (a slow reader, or one that came late). */
  onGap?(missed: number): void;
}

/** This host stopped following the process (detach, or the link went): it may go on. */
export class ProcessDetachedError extends Error {
  constructor(reason: string) {
    super(`no longer following the process: ${reason}`);
    this.name = "ProcessDetachedError";
  }
}

type Send = (type: number, channel: number, payload?: Uint8Array) => void;

/**
 * One host's view of one process of the agent, on a channel of its own: the output it follows
 * (credit per chunk taken), its stdin (a queue, sent within a window), signals, the terminal's
 * size, and its end. Made by AgentLink.spawn and AgentLink.attach.
 */
export class AgentProcessChannel {
  pid = 0;
  /** Output offset of the next byte this host gets. */
  offset = 0;
  /** Settles with the process's end, once this host has had all its output. */
  readonly exited: Promise<AgentProcessExit>;
  private settleExit!: (exit: AgentProcessExit) => void;
  private failExit!: (error: Error) => void;
  private readonly queue: Buffer[] = [];
  private sent = 0;
  private acked = 0;
  private closing = false;
  private closed = false;
  private readonly waiting: Array<{ until: number; resolve: () => void }> = [];
  private queued = 0;
  private ended = false;
  /** Set while spawn or attach waits for its first answer. */
  opening?: {
    resolve(): void;
    reject(error: Error): void;
    attached?: (frame: AttachedFrame) => void;
  };

  constructor(
    readonly channel: number,
    private readonly send: Send,
    /** Gives the agent `bytes` more output credit on this channel (the link sends it). */
    private readonly grantCredit: (bytes: number) => void,
    private readonly output: ProcessOutput,
    private readonly forget: () => void,
  ) {
    this.exited = new Promise((resolve, reject) => {
      this.settleExit = resolve;
      this.failExit = reject;
    });
    this.exited.catch(() => {});
  }

  /** Queues bytes for the process's stdin; resolves once they are on their way to the agent. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.ended)
      return Promise.reject(new ProcessDetachedError("the process ended or was detached"));
    if (this.closing) return Promise.reject(new Error("stdin was closed"));
    if (bytes.length === 0) return Promise.resolve();
    this.queue.push(Buffer.from(bytes));
    this.queued += bytes.length;
    const until = this.sent + this.queued;
    const done = new Promise<void>((resolve) => this.waiting.push({ until, resolve }));
    this.pump();
    return done;
  }

  /** EOF for the process's stdin (a terminal gets its end-of-file character), once queued bytes are out. */
  closeStdin(): void {
    if (this.closing || this.ended) return;
    this.closing = true;
    this.pump();
  }

  /** A signal for the process's group; 9 without `number`: kill its whole tree. */
  signal(number?: number): void {
    if (this.ended) return;
    if (number === undefined) {
      this.send(hostFrame.kill, this.channel);
      return;
    }
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(number, 0);
    this.send(hostFrame.kill, this.channel, payload);
  }

  resize(rows: number, cols: number): void {
    if (this.ended) return;
    const payload = Buffer.alloc(4);
    payload.writeUInt16LE(rows, 0);
    payload.writeUInt16LE(cols, 2);
    this.send(hostFrame.resize, this.channel, payload);
  }

  /** Stops following the process, which goes on. */
  detach(): void {
    if (this.ended) return;
    this.send(hostFrame.detach, this.channel);
    this.end(new ProcessDetachedError("detached"));
  }

  /** The link ended (or the agent refused): nothing more comes on this channel. */
  fail(error: Error): void {
    this.opening?.reject(error);
    this.opening = undefined;
    this.end(error);
  }

  /** Acts on one frame of this channel; throws MalformedFrameError for one that breaks the protocol. */
  receive(frame: Frame): void {
    switch (frame.type) {
      case agentFrame.started:
        this.pid = u32(frame);
        this.opening?.resolve();
        this.opening = undefined;
        return;
      case agentFrame.attached: {
        const attached = decodeAttached(frame.payload);
        this.pid = attached.pid;
        this.offset = attached.offset;
        this.opening?.attached?.(attached);
        this.opening?.resolve();
        this.opening = undefined;
        return;
      }
      case agentFrame.stdout:
      case agentFrame.stderr: {
        const chunk = Buffer.from(frame.payload);
        this.offset += chunk.length;
        const taken = this.output.onOutput(
          frame.type === agentFrame.stdout ? "stdout" : "stderr",
          chunk,
        );
        const grant = () => {
          if (!this.ended) this.grantCredit(chunk.length);
        };
        if (taken instanceof Promise) taken.then(grant, grant);
        else grant();
        return;
      }
      case agentFrame.gap: {
        if (frame.payload.length !== 8)
          throw new MalformedFrameError("a GAP frame of the wrong size");
        const missed = Number(frame.payload.readBigUInt64LE(0));
        this.offset += missed;
        this.output.onGap?.(missed);
        return;
      }
      case agentFrame.stdinAck: {
        const taken = u32(frame);
        if (this.acked + taken > this.sent)
          throw new MalformedFrameError("a STDIN_ACK for more stdin than was sent");
        this.acked += taken;
        this.pump();
        return;
      }
      case agentFrame.exit: {
        const exit = decodeExit(frame.payload);
        const has = (flag: number) => (exit.flags & flag) !== 0;
        const outcome: AgentProcessExit = {
          exitCode: exit.exitCode,
          signal: exit.signal,
          timedOut: has(8),
        };
        if (has(2)) outcome.killed = { complete: has(4), survivors: exit.survivors };
        if (has(16)) outcome.startErrno = exit.startErrno;
        if (this.opening) {
          // It ended before it started (a program that is not there): spawn still answers.
          this.opening.resolve();
          this.opening = undefined;
        }
        this.ended = true;
        this.forget();
        this.release();
        this.settleExit(outcome);
        return;
      }
      default:
        throw new MalformedFrameError(
          `a frame of type 0x${frame.type.toString(16)} on a process channel`,
        );
    }
  }

  private pump(): void {
    while (!this.ended && this.queue.length > 0 && this.sent - this.acked < stdinWindow) {
      const head = this.queue[0] as Buffer;
      const chunk = head.subarray(0, Math.min(stdinChunk, stdinWindow - (this.sent - this.acked)));
      if (chunk.length === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(chunk.length);
      this.send(hostFrame.stdin, this.channel, chunk);
      this.sent += chunk.length;
      this.queued -= chunk.length;
    }
    while (this.waiting.length > 0 && (this.waiting[0] as { until: number }).until <= this.sent) {
      this.waiting.shift()?.resolve();
    }
    if (this.closing && !this.closed && this.queue.length === 0 && !this.ended) {
      this.send(hostFrame.stdin, this.channel);
      this.closed = true;
    }
  }

  private end(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    this.release();
    this.failExit(error);
  }

  private release(): void {
    for (const waiter of this.waiting.splice(0)) waiter.resolve();
    this.queue.length = 0;
  }
}

function u32(frame: Frame): number {
  if (frame.payload.length !== 4)
    throw new MalformedFrameError(`a frame of ${frame.payload.length} bytes where 4 belong`);
  return frame.payload.readUInt32LE(0);
}
