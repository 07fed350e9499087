import type { Readable, Writable } from "node:stream";
import {
  agentFrame,
  decodeExit,
  type ExitFrame,
  encodeExec,
  encodeFrame,
  exitFlags,
  type Frame,
  FrameReader,
  hostFrame,
  maxAgentPayload,
  protocolName,
} from "./frames.js";

/** Stdin bytes in flight to the agent at most (its window is 1 MiB). */
const stdinWindow = 512 * 1024;
const stdinChunk = 32 * 1024;

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

export interface AgentExecRequest {
  argv: string[];
  /** NAME=VALUE entries: the command's whole environment. */
  env: string[];
  /** Empty or undefined: the agent's own working directory. */
  cwd?: string;
  stdin?: Uint8Array;
  /** Output past this (stdout and stderr together) is drained inside the sandbox and dropped. */
  maxOutputBytes: number;
  /** The agent kills the command's whole tree at this deadline. */
  timeoutMs?: number;
  /** On abort the agent kills the command's whole tree; exec then resolves as killed. */
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
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
  resolve(outcome: AgentExecOutcome): void;
  reject(error: Error): void;
  pid?: number;
  stdinSent: number;
  stdinAcked: number;
  stdinClosed: boolean;
  stdin: Buffer;
}

/**
 * The host's end of one agent: frames over the agent's stdio, many execs at once on channels of
 * their own. Output is acknowledged as it arrives, so the agent never sends more than its window
 * ahead per exec and a flood on one exec stalls no other.
 */
export class AgentLink {
  private readonly execs = new Map<number, PendingExec>();
  /** Channels start at a random point: another host attached to the same agent uses others. */
  private nextChannel = 1 + Math.floor(Math.random() * 0x7fff0000);
  private closedReason: string | undefined;
  private markClosed: (reason: string) => void = () => {};
  /** Resolves with the reason once the link has ended. */
  readonly closed = new Promise<string>((resolve) => {
    this.markClosed = resolve;
  });

  private constructor(
    private readonly output: Writable,
    readonly agentPid: number,
  ) {}

  /**
   * Waits for the agent's HELLO on `input`, asking for it again in case the agent greeted before
   * this host attached; fails when it is not a cadre-agent/1.
   */
  static open(input: Readable, output: Writable, timeoutMs = 10_000): Promise<AgentLink> {
    const reader = new FrameReader(maxAgentPayload);
    return new Promise((resolve, reject) => {
      let link: AgentLink | undefined;
      const timer = setTimeout(() => fail("no HELLO from the agent in time"), timeoutMs);
      const fail = (reason: string) => {
        clearTimeout(timer);
        if (link) link.close(reason);
        else reject(new AgentLinkClosedError(reason));
      };
      input.on("data", (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = reader.push(chunk);
        } catch (error) {
          fail((error as Error).message);
          input.destroy();
          return;
        }
        for (const frame of frames) {
          if (link) {
            link.receive(frame);
            continue;
          }
          const name = frame.payload.subarray(0, protocolName.length).toString("latin1");
          if (
            frame.type !== agentFrame.hello ||
            name !== protocolName ||
            frame.payload.length !== protocolName.length + 5
          ) {
            fail(`the sandbox did not greet as ${protocolName}`);
            input.destroy();
            return;
          }
          clearTimeout(timer);
          link = new AgentLink(output, frame.payload.readUInt32LE(protocolName.length + 1));
          resolve(link);
        }
      });
      input.once("close", () => fail("its output closed"));
      output.write(encodeFrame(hostFrame.helloAgain, 0));
      input.once("error", (error) => fail(error.message));
      output.once("error", (error) => fail(error.message));
    });
  }

  /** Runs one command in the sandbox. */
  exec(request: AgentExecRequest): Promise<AgentExecOutcome> {
    if (this.closedReason) return Promise.reject(new AgentLinkClosedError(this.closedReason));
    const channel = this.nextChannel;
    this.nextChannel = this.nextChannel >= 0xfffffff0 ? 1 : this.nextChannel + 1;
    return new Promise((resolve, reject) => {
      const pending: PendingExec = {
        request,
        resolve,
        reject,
        stdinSent: 0,
        stdinAcked: 0,
        stdinClosed: false,
        stdin: Buffer.from(request.stdin ?? []),
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
        }),
      );
      this.pumpStdin(channel, pending);
      const onAbort = () => this.send(hostFrame.kill, channel);
      if (request.signal?.aborted) onAbort();
      else request.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => request.signal?.removeEventListener("abort", onAbort);
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
  }

  private send(type: number, channel: number, payload?: Uint8Array): void {
    if (!this.closedReason) this.output.write(encodeFrame(type, channel, payload));
  }

  /** Sends stdin within the window; the EOF frame once all of it is sent. */
  private pumpStdin(channel: number, pending: PendingExec): void {
    const { stdin } = pending;
    while (
      pending.stdinSent < stdin.length &&
      pending.stdinSent - pending.stdinAcked < stdinWindow
    ) {
      const end = Math.min(stdin.length, pending.stdinSent + stdinChunk);
      this.send(hostFrame.stdin, channel, stdin.subarray(pending.stdinSent, end));
      pending.stdinSent = end;
    }
    if (pending.stdinSent === stdin.length && !pending.stdinClosed) {
      this.send(hostFrame.stdin, channel); // EOF
      pending.stdinClosed = true;
    }
  }

  private receive(frame: Frame): void {
    if (frame.type === agentFrame.fault && frame.channel === 0) {
      this.close(`the agent failed: ${frame.payload.toString("utf8")}`);
      return;
    }
    const pending = this.execs.get(frame.channel);
    if (!pending) return;
    switch (frame.type) {
      case agentFrame.stdout:
      case agentFrame.stderr: {
        const callback =
          frame.type === agentFrame.stdout ? pending.request.onStdout : pending.request.onStderr;
        // The payload is a view of the reader's buffer: a copy outlives it.
        callback?.(Buffer.from(frame.payload));
        const credit = Buffer.alloc(4);
        credit.writeUInt32LE(frame.payload.length, 0);
        this.send(hostFrame.credit, frame.channel, credit);
        break;
      }
      case agentFrame.stdinAck:
        pending.stdinAcked += frame.payload.readUInt32LE(0);
        this.pumpStdin(frame.channel, pending);
        break;
      case agentFrame.started:
        pending.pid = frame.payload.readUInt32LE(0);
        break;
      case agentFrame.exit:
        this.execs.delete(frame.channel);
        pending.resolve(outcomeOf(decodeExit(frame.payload), pending.pid));
        break;
      case agentFrame.fault:
        this.execs.delete(frame.channel);
        pending.reject(new AgentFaultError(frame.payload.toString("utf8")));
        break;
    }
  }
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
