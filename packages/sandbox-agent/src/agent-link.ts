import type { Readable, Writable } from "node:stream";
import { AgentProcessChannel, type ProcessOutput } from "./agent-process.js";
import {
  type AttachedFrame,
  agentFeatures,
  agentFrame,
  decodeExit,
  decodeProcessInfo,
  type ExitFrame,
  encodeExec,
  encodeFrame,
  exitFlags,
  type Frame,
  FrameReader,
  hostFrame,
  MalformedFrameError,
  maxAgentPayload,
  type ProcessInfoFrame,
  protocolName,
  refusedReasons,
} from "./frames.js";

/** Output the agent may send on a new channel before any credit (INITIAL_CREDIT, agent/exec.h). */
const agentOutputWindow = 256 * 1024;
/** Stdin bytes in flight to the agent at most (its window is 1 MiB). */
const stdinWindow = 768 * 1024;
const stdinChunk = 32 * 1024;
/** A payload at least this long goes out as it is, beside its header, instead of copied onto it. */
const unjoinedPayload = 4096;
/**
 * Output at least this long is handed to the callbacks as a view of the bytes read; a shorter one
 * is copied, so that a few bytes kept long do not keep the whole chunk they came in.
 */
const viewedPayload = 1024;

/** The link to the agent ended (it died, or its stream closed): no exec on it can finish. */
export class AgentLinkClosedError extends Error {
  constructor(reason: string) {
    super(`the sandbox agent's link closed: ${reason}`);
    this.name = "AgentLinkClosedError";
  }
}

/** The agent refused what the host sent (a FAULT frame): a bug on the host's side. */
export class AgentFaultError extends Error {
  constructor(message: string) {
    super(`the sandbox agent refused a request: ${message}`);
    this.name = "AgentFaultError";
  }
}

/**
 * The agent would not serve this sandbox, and said why instead of greeting: `reason` "user" (the
 * session's user is not in the image, or is the agent's own uid), "privileges" (the sandbox
 * did not give the agent what it needs to run commands as that user) or "subreaper" (not PID 1,
 * on a kernel without child subreapers, where no kill could be verified).
 */
export class AgentRefusedError extends Error {
  constructor(
    readonly reason: (typeof refusedReasons)[keyof typeof refusedReasons] | "unknown",
    readonly detail: string,
  ) {
    super(`the sandbox agent refused to start: ${detail}`);
    this.name = "AgentRefusedError";
  }
}

export interface AgentExecRequest {
  argv: string[];
  /** NAME=VALUE entries: the command's whole environment. */
  env: string[];
  /** Empty or undefined: the agent's own working directory. */
  cwd?: string;
  /**
   * The command's stdin, then EOF: bytes, or a source read as the agent takes it (at most the
   * stdin window ahead). A source that throws kills the command, and exec rejects with its error.
   */
  stdin?: Uint8Array | AsyncIterable<Uint8Array>;
  /** argv[0] names one of the agent's files operations (agent/builtin.h): no program runs. */
  builtin?: boolean;
  /** A files operation runs as this user instead of the session's. */
  owner?: { uid: number; gid: number };
  /** Output past this (stdout and stderr together) is drained inside the sandbox and dropped. */
  maxOutputBytes: number;
  /**
   * Output the agent may have in flight, unread by the callbacks: its own 256 KiB when unset.
   * A larger one carries a bulk transfer faster over a link whose round trip is long (an engine's
   * attach stream), for this much more memory on each side.
   */
  outputWindow?: number;
  /** The agent kills the command's whole tree at this deadline. */
  timeoutMs?: number;
  /** On abort the agent kills the command's whole tree; exec then resolves as killed. */
  signal?: AbortSignal;
  /**
   * Output as it comes. A callback that returns a promise takes the chunk when it settles: only
   * then may the agent send that many bytes more, so a slow consumer holds the command back
   * instead of filling memory.
   */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
}

export interface AgentExecOutcome {
  /** The exit code; 128 + n for a signal; 127 or 126 when the program could not start. */
  exitCode: number;
  /** The signal that ended it, as a number, or 0. */
  signal: number;
  timedOut: boolean;
  truncated: boolean;
  /** Set when the agent killed the command (deadline or abort). */
  killed?: { complete: boolean; survivors: number };
  /** errno of a program that could not start (2: not found). */
  startErrno?: number;
  /** The command's pid inside the sandbox, once it started. */
  pid?: number;
}

interface PendingExec {
  request: AgentExecRequest;
  /** Output credit is sent back once this much is owed (a quarter of the exec's window). */
  creditBatch: number;
  resolve(outcome: AgentExecOutcome): void;
  reject(error: Error): void;
  pid?: number;
  stdin: StdinSource;
  stdinSent: number;
  stdinAcked: number;
  stdinClosed: boolean;
  /** The stdin source failed: the command was killed, and exec rejects with this. */
  stdinError?: Error;
}

/** Where an exec's stdin comes from: what is at hand now, and the source of more. */
interface StdinSource {
  /** Taken from the source and not yet sent. */
  pending: Buffer;
  more?: AsyncIterator<Uint8Array>;
  pulling: boolean;
  ended: boolean;
}

function stdinSource(stdin: AgentExecRequest["stdin"]): StdinSource {
  if (stdin === undefined || stdin instanceof Uint8Array) {
    return { pending: Buffer.from(stdin ?? []), pulling: false, ended: true };
  }
  return {
    pending: Buffer.alloc(0),
    more: stdin[Symbol.asyncIterator](),
    pulling: false,
    ended: false,
  };
}

/**
 * The host's end of one agent: frames over the agent's stdio, many execs at once on channels of
 * their own. Output is acknowledged as it arrives, so the agent never sends more than its window
 * ahead per exec and a flood on one exec stalls no other.
 */
export class AgentLink {
  private readonly execs = new Map<number, PendingExec>();
  private readonly processes = new Map<number, AgentProcessChannel>();
  private readonly lists = new Map<
    number,
    {
      found: ProcessInfoFrame[];
      resolve(found: ProcessInfoFrame[]): void;
      reject(error: Error): void;
    }
  >();
  /** Channels start at a random point: another host attached to the same agent uses others. */
  private nextChannel = 1 + Math.floor(Math.random() * 0x7fff0000);
  private closedReason: string | undefined;
  /** Output credit owed to the agent per channel, not sent yet (oweCredit). */
  private readonly owedCredit = new Map<number, number>();
  private creditFlush = false;
  private markClosed: (reason: string) => void = () => {};
  /** Resolves with the reason once the link has ended. */
  readonly closed = new Promise<string>((resolve) => {
    this.markClosed = resolve;
  });

  private constructor(
    private readonly output: Writable,
    readonly agentPid: number,
    /** What the agent said it can do beyond commands (frames.ts agentFeatures). */
    readonly features: number,
  ) {}

  /** Whether the agent runs files operations (an older agent of a session does not). */
  get hasFiles(): boolean {
    return (this.features & agentFeatures.files) !== 0;
  }

  /** Whether the agent keeps processes that outlive their link. */
  get hasProcesses(): boolean {
    return (this.features & agentFeatures.processes) !== 0;
  }

  /**
   * Starts a process: it outlives this link, its output goes to a ring of `ringBytes`, and this
   * host follows it from its first byte. Resolves once it started (or ended before it could:
   * see `exited`); rejects when the agent refuses it (a tag in use, too many processes).
   */
  async spawn(
    request: {
      tag: string;
      argv: string[];
      env: string[];
      cwd?: string;
      timeoutMs?: number;
      ringBytes: number;
      pty?: { rows: number; cols: number };
    },
    output: ProcessOutput,
  ): Promise<AgentProcessChannel> {
    const process = this.openProcess(output);
    const opened = new Promise<void>((resolve, reject) => {
      process.opening = { resolve, reject };
    });
    this.send(
      hostFrame.exec,
      process.channel,
      encodeExec({
        argv: request.argv,
        env: request.env,
        cwd: request.cwd ?? "",
        maxOutputBytes: request.ringBytes,
        timeoutMs: request.timeoutMs ?? 0,
        process: { tag: request.tag, ...(request.pty ? { pty: request.pty } : {}) },
      }),
    );
    await opened;
    return process;
  }

  /**
   * Follows the process `tag` from output offset `from` (0: the oldest byte its ring still
   * holds): what the ring holds first, then what comes. Rejects with AgentFaultError when there
   * is no such process.
   */
  async attach(
    tag: string,
    from: number,
    output: ProcessOutput,
  ): Promise<{ process: AgentProcessChannel; attached: AttachedFrame }> {
    const process = this.openProcess(output);
    let attached: AttachedFrame | undefined;
    const opened = new Promise<void>((resolve, reject) => {
      process.opening = { resolve, reject, attached: (frame) => (attached = frame) };
    });
    const payload = Buffer.alloc(8 + Buffer.byteLength(tag, "latin1"));
    payload.writeBigUInt64LE(BigInt(from), 0);
    payload.write(tag, 8, "latin1");
    this.send(hostFrame.attach, process.channel, payload);
    await opened;
    return { process, attached: attached as AttachedFrame };
  }

  /** The agent's processes, running and ended (until their slots are needed). */
  listProcesses(): Promise<ProcessInfoFrame[]> {
    if (this.closedReason) return Promise.reject(new AgentLinkClosedError(this.closedReason));
    const channel = this.takeChannel();
    return new Promise((resolve, reject) => {
      this.lists.set(channel, { found: [], resolve, reject });
      this.send(hostFrame.list, channel);
    });
  }

  private openProcess(output: ProcessOutput): AgentProcessChannel {
    if (this.closedReason) throw new AgentLinkClosedError(this.closedReason);
    const channel = this.takeChannel();
    const process = new AgentProcessChannel(
      channel,
      (type, on, payload) => this.send(type, on, payload),
      (bytes) => this.oweCredit(channel, bytes),
      output,
      () => this.processes.delete(channel),
    );
    this.processes.set(channel, process);
    return process;
  }

  private takeChannel(): number {
    const channel = this.nextChannel;
    this.nextChannel = this.nextChannel >= 0xfffffff0 ? 1 : this.nextChannel + 1;
    return channel;
  }

  /**
   * Waits for the agent's HELLO on `input`, asking for it again in case the agent greeted before
   * this host attached; fails when it is not a cadre-agent/1.
   */
  static open(input: Readable, output: Writable, timeoutMs = 10_000): Promise<AgentLink> {
    // Output is a byte stream: its frames' pieces go on as they arrive, never joined.
    const reader = new FrameReader(
      maxAgentPayload,
      (type) => type === agentFrame.stdout || type === agentFrame.stderr,
    );
    return new Promise((resolve, reject) => {
      let link: AgentLink | undefined;
      const timer = setTimeout(() => fail("no HELLO from the agent in time"), timeoutMs);
      const fail = (reason: string, error?: Error) => {
        clearTimeout(timer);
        if (link) link.close(reason);
        else reject(error ?? new AgentLinkClosedError(reason));
      };
      input.on("data", (chunk: Buffer) => {
        try {
          for (const frame of reader.push(chunk)) {
            if (link) link.receive(frame);
            else link = AgentLink.greeting(frame, output);
          }
          if (link) {
            clearTimeout(timer);
            resolve(link);
          }
        } catch (error) {
          // The agent's output is as untrusted as the tenant: a broken frame ends the link.
          fail((error as Error).message, error as Error);
          input.destroy();
        }
      });
      let writeError: Error | undefined;
      // What the agent wrote before it went (a REFUSED frame) is read before its output closes.
      input.once("close", () => fail(writeError ? writeError.message : "its output closed"));
      input.on("error", (error) => fail(error.message));
      // Its stdin can break before its stdout is read out: that ends the link once the output
      // closes, or at once after the greeting. Every error is handled for the link's lifetime.
      output.on("error", (error) => {
        writeError = error;
        if (link) fail(error.message);
      });
      output.write(encodeFrame(hostFrame.helloAgain, 0));
    });
  }

  /** Runs one command in the sandbox. */
  exec(request: AgentExecRequest): Promise<AgentExecOutcome> {
    if (this.closedReason) return Promise.reject(new AgentLinkClosedError(this.closedReason));
    const channel = this.takeChannel();
    return new Promise((resolve, reject) => {
      const pending: PendingExec = {
        request,
        creditBatch: Math.max(request.outputWindow ?? 0, agentOutputWindow) / 4,
        resolve,
        reject,
        stdin: stdinSource(request.stdin),
        stdinSent: 0,
        stdinAcked: 0,
        stdinClosed: false,
      };
      this.execs.set(channel, pending);
      this.send(
        hostFrame.exec,
        channel,
        encodeExec({
          argv: request.argv,
          env: request.env,
          cwd: request.cwd ?? "",
          maxOutputBytes: request.maxOutputBytes,
          timeoutMs: request.timeoutMs ?? 0,
          ...(request.builtin ? { builtin: true } : {}),
          ...(request.owner ? { owner: request.owner } : {}),
        }),
      );
      if (request.outputWindow !== undefined && request.outputWindow > agentOutputWindow)
        this.oweCredit(channel, request.outputWindow - agentOutputWindow);
      this.pumpStdin(channel, pending);
      const onAbort = () => this.send(hostFrame.kill, channel);
      if (request.signal?.aborted) onAbort();
      else request.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        request.signal?.removeEventListener("abort", onAbort);
        // A source not read to its end is let go of.
        if (!pending.stdin.ended) void pending.stdin.more?.return?.()?.catch(() => {});
      };
      pending.resolve = (outcome) => {
        done();
        resolve(outcome);
      };
      pending.reject = (error) => {
        done();
        reject(error);
      };
    });
  }

  /** Ends the link: every exec still running on it rejects. */
  close(reason = "closed by the host"): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.markClosed(reason);
    for (const pending of this.execs.values()) pending.reject(new AgentLinkClosedError(reason));
    this.execs.clear();
    this.owedCredit.clear();
    for (const process of [...this.processes.values()])
      process.fail(new AgentLinkClosedError(reason));
    for (const list of this.lists.values()) list.reject(new AgentLinkClosedError(reason));
    this.lists.clear();
  }

  private send(type: number, channel: number, payload?: Uint8Array): void {
    if (this.closedReason) return;
    if (payload === undefined || payload.byteLength < unjoinedPayload) {
      this.output.write(encodeFrame(type, channel, payload));
      return;
    }
    // Header and payload in one write (a writev), without copying the payload.
    const header = encodeFrame(type, channel);
    header.writeUInt32LE(payload.byteLength, 0);
    this.output.cork();
    this.output.write(header);
    this.output.write(payload);
    this.output.uncork();
  }

  /**
   * Credit is what lets the agent send more, and a write to an engine's attach stream costs
   * about 0.1 ms here: credit goes back once `batch` bytes of it are owed on the channel (at
   * most a quarter of its window, so the agent never waits on credit held back), and what a
   * round of the event loop grants goes out as one write. A process's follower grants at once
   * (batch 0): its credit also tells the agent that it still reads.
   */
  private oweCredit(channel: number, bytes: number, batch = 0): void {
    const owed = (this.owedCredit.get(channel) ?? 0) + bytes;
    this.owedCredit.set(channel, owed);
    if (owed < batch || this.creditFlush) return;
    this.creditFlush = true;
    process.nextTick(() => {
      this.creditFlush = false;
      if (this.closedReason) return;
      this.output.cork();
      for (const [on, more] of this.owedCredit) {
        const pending = this.execs.get(on);
        if (pending && more < pending.creditBatch) continue;
        this.owedCredit.delete(on);
        if (!pending && !this.processes.has(on)) continue;
        const credit = Buffer.alloc(4);
        credit.writeUInt32LE(Math.min(more, 0xffffffff), 0);
        this.output.write(encodeFrame(hostFrame.credit, on, credit));
      }
      this.output.uncork();
    });
  }

  /** Sends stdin within the window, reading the source as room comes; EOF once it ended. */
  private pumpStdin(channel: number, pending: PendingExec): void {
    const { stdin } = pending;
    // The frames of one round go out in one write.
    this.output.cork();
    process.nextTick(() => this.output.uncork());
    while (!pending.stdinClosed && pending.stdinSent - pending.stdinAcked < stdinWindow) {
      if (stdin.pending.length > 0) {
        const room = stdinWindow - (pending.stdinSent - pending.stdinAcked);
        const chunk = stdin.pending.subarray(0, Math.min(stdinChunk, room));
        stdin.pending = stdin.pending.subarray(chunk.length);
        this.send(hostFrame.stdin, channel, chunk);
        pending.stdinSent += chunk.length;
      } else if (stdin.ended) {
        this.send(hostFrame.stdin, channel); // EOF
        pending.stdinClosed = true;
      } else {
        this.pullStdin(channel, pending);
        return;
      }
    }
  }

  /** Takes the next chunk of a stdin source, then goes on sending. */
  private pullStdin(channel: number, pending: PendingExec): void {
    const { stdin } = pending;
    if (stdin.pulling || !stdin.more) return;
    stdin.pulling = true;
    stdin.more.next().then(
      (next) => {
        stdin.pulling = false;
        if (next.done) stdin.ended = true;
        else
          stdin.pending = Buffer.from(
            next.value.buffer,
            next.value.byteOffset,
            next.value.byteLength,
          );
        if (this.execs.get(channel) === pending) this.pumpStdin(channel, pending);
      },
      (error: unknown) => {
        stdin.pulling = false;
        stdin.ended = true;
        // No EOF follows: the command must not take what it got as the whole.
        pending.stdinClosed = true;
        if (this.execs.get(channel) !== pending) return;
        pending.stdinError = error instanceof Error ? error : new Error(String(error));
        this.send(hostFrame.kill, channel);
      },
    );
  }

  /** Acts on one frame from the agent; throws MalformedFrameError for one that breaks the protocol. */
  private receive(frame: Frame): void {
    if (frame.type === agentFrame.hello) return; // a greeting again (HELLO_AGAIN crossed it)
    if (frame.type === agentFrame.fault && frame.channel === 0) {
      this.close(`the agent failed: ${printable(frame.payload)}`);
      return;
    }
    const process = this.processes.get(frame.channel);
    if (process) {
      if (frame.type === agentFrame.fault)
        process.fail(new AgentFaultError(printable(frame.payload)));
      else process.receive(frame);
      return;
    }
    const list = this.lists.get(frame.channel);
    if (list && frame.type === agentFrame.processInfo) {
      if (frame.payload.length === 0) {
        this.lists.delete(frame.channel);
        list.resolve(list.found);
      } else {
        list.found.push(decodeProcessInfo(frame.payload));
      }
      return;
    }
    const pending = this.execs.get(frame.channel);
    switch (frame.type) {
      case agentFrame.stdout:
      case agentFrame.stderr: {
        if (!pending) return;
        const callback =
          frame.type === agentFrame.stdout ? pending.request.onStdout : pending.request.onStderr;
        const chunk =
          frame.payload.length >= viewedPayload ? frame.payload : Buffer.from(frame.payload);
        const taken = callback?.(chunk);
        const grant = () => {
          if (this.execs.get(frame.channel) === pending)
            this.oweCredit(frame.channel, chunk.length, pending.creditBatch);
        };
        if (taken instanceof Promise) taken.then(grant, grant);
        else grant();
        return;
      }
      case agentFrame.stdinAck: {
        const taken = u32(frame, "STDIN_ACK");
        if (!pending) return;
        if (pending.stdinAcked + taken > pending.stdinSent) {
          throw new MalformedFrameError("a STDIN_ACK for more stdin than was sent");
        }
        pending.stdinAcked += taken;
        this.pumpStdin(frame.channel, pending);
        return;
      }
      case agentFrame.started: {
        const pid = u32(frame, "STARTED");
        if (pending) pending.pid = pid;
        return;
      }
      case agentFrame.exit: {
        const exit = decodeExit(frame.payload);
        if (!pending) return;
        this.execs.delete(frame.channel);
        this.owedCredit.delete(frame.channel);
        if (pending.stdinError) pending.reject(pending.stdinError);
        else pending.resolve(outcomeOf(exit, pending.pid));
        return;
      }
      case agentFrame.fault:
        if (!pending) return;
        this.execs.delete(frame.channel);
        this.owedCredit.delete(frame.channel);
        pending.reject(new AgentFaultError(printable(frame.payload)));
        return;
      default:
        throw new MalformedFrameError(`a frame of unknown type 0x${frame.type.toString(16)}`);
    }
  }

  /** The link of the agent that sent `frame` first: its HELLO, or why it refused to serve. */
  private static greeting(frame: Frame, output: Writable): AgentLink {
    if (frame.type === agentFrame.refused && frame.channel === 0 && frame.payload.length >= 1) {
      const code = frame.payload.readUInt8(0) as keyof typeof refusedReasons;
      throw new AgentRefusedError(
        refusedReasons[code] ?? "unknown",
        printable(frame.payload.subarray(1)),
      );
    }
    const name = frame.payload.subarray(0, protocolName.length).toString("latin1");
    // An agent of before its features greets without them: it runs commands only.
    const length = frame.payload.length;
    if (
      frame.type !== agentFrame.hello ||
      name !== protocolName ||
      frame.payload[protocolName.length] !== 0 ||
      (length !== protocolName.length + 5 && length !== protocolName.length + 9)
    ) {
      throw new AgentLinkClosedError(`the sandbox did not greet as ${protocolName}`);
    }
    const features =
      length === protocolName.length + 9 ? frame.payload.readUInt32LE(length - 4) : 0;
    return new AgentLink(output, frame.payload.readUInt32LE(protocolName.length + 1), features);
  }
}

/** A u32 payload, the only shape STARTED and STDIN_ACK have. */
function u32(frame: Frame, name: string): number {
  if (frame.payload.length !== 4) {
    throw new MalformedFrameError(`a ${name} frame of ${frame.payload.length} bytes`);
  }
  return frame.payload.readUInt32LE(0);
}

/** The agent's text, bounded and without control characters, fit for an error message. */
function printable(payload: Buffer): string {
  return payload
    .subarray(0, 512)
    .toString("utf8")
    .replace(/[\u0000-\u001f\u007f]/g, "?");
}

function outcomeOf(exit: ExitFrame, pid: number | undefined): AgentExecOutcome {
  const has = (flag: number) => (exit.flags & flag) !== 0;
  const outcome: AgentExecOutcome = {
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut: has(exitFlags.timedOut),
    truncated: has(exitFlags.truncated),
  };
  if (has(exitFlags.killed)) {
    outcome.killed = { complete: has(exitFlags.killComplete), survivors: exit.survivors };
  }
  if (has(exitFlags.startFailed)) outcome.startErrno = exit.startErrno;
  if (pid !== undefined) outcome.pid = pid;
  return outcome;
}
