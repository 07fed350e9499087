/**
 * The agent's wire protocol, version 1, as agent/protocol.h defines it: a 9-byte header
 * (u32 payload length, u8 type, u32 channel, little-endian), then the payload.
 */
export const protocolName = "cadre-agent/1";
export const headerBytes = 9;
/** The largest frame the host accepts from the agent: data frames are at most 64 KiB (MAX_DATA_PAYLOAD). */
export const maxAgentPayload = 64 * 1024;
/** The largest frame the agent accepts from the host. */
export const maxHostPayload = 4 * 1024 * 1024;

export const hostFrame = {
  exec: 0x01,
  stdin: 0x02,
  kill: 0x03,
  credit: 0x04,
  helloAgain: 0x05,
  attach: 0x06,
  resize: 0x07,
  list: 0x08,
  detach: 0x09,
} as const;
export const agentFrame = {
  hello: 0x81,
  started: 0x82,
  stdout: 0x83,
  stderr: 0x84,
  exit: 0x85,
  fault: 0x86,
  stdinAck: 0x87,
  refused: 0x88,
  attached: 0x89,
  processInfo: 0x8a,
  gap: 0x8b,
} as const;

/** EXEC flags (agent/protocol.h). */
export const execFlags = { builtin: 1, as: 2, process: 4, pty: 8 } as const;

/** What an agent's HELLO says it can do beyond running commands (0 from an agent before them). */
export const agentFeatures = { files: 1, processes: 2 } as const;

/** What a REFUSED frame says the agent could not accept at its start. */
export const refusedReasons = { 1: "user", 2: "privileges", 3: "subreaper" } as const;

/** The agent exits with this plus the REFUSED code after refusing (REFUSED_EXIT_BASE). */
const refusedExitBase = 64;

/**
 * Why an agent refused to start, from its exit code, or undefined for any other exit: for a host
 * whose engine lost the REFUSED frame the agent wrote as it exited.
 */
export function refusalOfExitCode(
  exitCode: number,
): (typeof refusedReasons)[keyof typeof refusedReasons] | undefined {
  return refusedReasons[(exitCode - refusedExitBase) as keyof typeof refusedReasons];
}

export const exitFlags = {
  truncated: 1,
  killed: 2,
  killComplete: 4,
  timedOut: 8,
  startFailed: 16,
} as const;

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

export function encodeFrame(
  type: number,
  channel: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(headerBytes);
  header.writeUInt32LE(payload.byteLength, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32LE(channel, 5);
  return Buffer.concat([header, payload]);
}

/** What an EXEC frame carries. */
export interface ExecFrame {
  argv: string[];
  env: string[];
  /** Empty: the agent's own working directory. */
  cwd: string;
  maxOutputBytes: number;
  /** 0: no deadline in the agent. */
  timeoutMs: number;
  /** argv[0] names one of the agent's files operations, run without an exec. */
  builtin?: boolean;
  /** The user a files operation runs as, instead of the session's. */
  owner?: { uid: number; gid: number };
  /** A process that outlives its link: its tag, and its terminal when it has one. */
  process?: { tag: string; pty?: { rows: number; cols: number } };
}

function strings(list: readonly string[]): Buffer[] {
  const count = Buffer.alloc(4);
  count.writeUInt32LE(list.length, 0);
  return [count, ...list.map((s) => Buffer.from(`${s}\0`, "utf8"))];
}

export function encodeExec(exec: ExecFrame): Buffer {
  const fixed = Buffer.alloc(exec.owner ? 24 : 16);
  const flags =
    (exec.builtin ? execFlags.builtin : 0) |
    (exec.owner ? execFlags.as : 0) |
    (exec.process ? execFlags.process : 0) |
    (exec.process?.pty ? execFlags.pty : 0);
  fixed.writeUInt32LE(flags, 0);
  const maxOutput = Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(exec.maxOutputBytes)));
  fixed.writeBigUInt64LE(BigInt(maxOutput), 4);
  fixed.writeUInt32LE(Math.min(0xffffffff, Math.max(0, Math.ceil(exec.timeoutMs))), 12);
  if (exec.owner) {
    fixed.writeUInt32LE(exec.owner.uid, 16);
    fixed.writeUInt32LE(exec.owner.gid, 20);
  }
  const process: Buffer[] = [];
  if (exec.process) {
    process.push(Buffer.from(`${exec.process.tag}\0`, "latin1"));
    if (exec.process.pty) {
      const size = Buffer.alloc(4);
      size.writeUInt16LE(exec.process.pty.rows, 0);
      size.writeUInt16LE(exec.process.pty.cols, 2);
      process.push(size);
    }
  }
  return Buffer.concat([
    fixed,
    ...process,
    Buffer.from(`${exec.cwd}\0`, "utf8"),
    ...strings(exec.argv),
    ...strings(exec.env),
  ]);
}

/** What an EXIT frame says. */
export interface ExitFrame {
  exitCode: number;
  /** The signal number that ended the command, 0 when none. */
  signal: number;
  flags: number;
  /** Processes of a killed command still alive when the agent gave up. */
  survivors: number;
  /** Why the program could not start (errno), 0 otherwise. */
  startErrno: number;
}

/** A frame from the agent that breaks the protocol: the link must end. */
export class MalformedFrameError extends Error {}

export function decodeExit(payload: Buffer): ExitFrame {
  if (payload.length !== 20) {
    throw new MalformedFrameError(`an EXIT frame of ${payload.length} bytes`);
  }
  return {
    exitCode: payload.readInt32LE(0),
    signal: payload.readInt32LE(4),
    flags: payload.readUInt32LE(8),
    survivors: payload.readUInt32LE(12),
    startErrno: payload.readInt32LE(16),
  };
}

/**
 * Cuts a byte stream into frames. Refuses, by throwing, a frame longer than `maxPayload`: the
 * other side is broken or hostile, and the link must end rather than buffer it.
 *
 * Payloads are views of the chunks pushed, which are never written to. A frame of a type that
 * `piecewise` names (output, a byte stream) comes out in pieces as its bytes arrive, each a
 * Frame of the same type and channel, and an empty one as one empty piece; any other frame comes
 * out whole, copied once when the stream cut it.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(headerBytes);
  private headerHave = 0;
  /** The frame being read, once its header is. */
  private current:
    | { type: number; channel: number; left: number; piecewise: boolean; parts: Buffer[] }
    | undefined;

  constructor(
    private readonly maxPayload: number,
    private readonly piecewise: (type: number) => boolean = () => false,
  ) {}

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      const frame = this.current;
      if (!frame) {
        at = this.readHeader(chunk, at, frames);
        continue;
      }
      const end = Math.min(chunk.length, at + frame.left);
      const piece = chunk.subarray(at, end);
      frame.left -= piece.length;
      at = end;
      if (frame.piecewise)
        frames.push({ type: frame.type, channel: frame.channel, payload: piece });
      else frame.parts.push(piece);
      if (frame.left > 0) continue;
      this.current = undefined;
      if (!frame.piecewise) {
        const payload = frame.parts.length === 1 ? frame.parts[0]! : Buffer.concat(frame.parts);
        frames.push({ type: frame.type, channel: frame.channel, payload });
      }
    }
    return frames;
  }

  /** Reads a header from `chunk` at `at` (or its rest, when the stream cut it); where it ended. */
  private readHeader(chunk: Buffer, at: number, frames: Frame[]): number {
    let header: Buffer;
    if (this.headerHave === 0 && chunk.length - at >= headerBytes) {
      header = chunk.subarray(at, at + headerBytes);
      at += headerBytes;
    } else {
      const take = Math.min(headerBytes - this.headerHave, chunk.length - at);
      chunk.copy(this.header, this.headerHave, at, at + take);
      this.headerHave += take;
      at += take;
      if (this.headerHave < headerBytes) return at;
      this.headerHave = 0;
      header = this.header;
    }
    const length = header.readUInt32LE(0);
    if (length > this.maxPayload) {
      throw new MalformedFrameError(
        `a frame of ${length} bytes, past the limit of ${this.maxPayload}`,
      );
    }
    const type = header.readUInt8(4);
    const channel = header.readUInt32LE(5);
    if (length === 0) {
      frames.push({ type, channel, payload: Buffer.alloc(0) });
    } else if (!this.piecewise(type) && chunk.length - at >= length) {
      // Whole in this chunk: a view, no copy.
      frames.push({ type, channel, payload: chunk.subarray(at, at + length) });
      at += length;
    } else {
      this.current = { type, channel, left: length, piecewise: this.piecewise(type), parts: [] };
    }
    return at;
  }
}

/** What ATTACHED says of the process a host attached to. */
export interface AttachedFrame {
  pid: number;
  running: boolean;
  pty: boolean;
  /** The output offset the replay starts at. */
  offset: number;
  /** Output bytes asked for that the ring no longer held. */
  missed: number;
}

export function decodeAttached(payload: Buffer): AttachedFrame {
  if (payload.length !== 24)
    throw new MalformedFrameError(`an ATTACHED frame of ${payload.length} bytes`);
  return {
    pid: payload.readUInt32LE(0),
    running: payload[4] === 1,
    pty: payload[5] === 1,
    offset: safeCount(payload.readBigUInt64LE(8)),
    missed: safeCount(payload.readBigUInt64LE(16)),
  };
}

/** One process of a LIST. */
export interface ProcessInfoFrame {
  pid: number;
  running: boolean;
  pty: boolean;
  exitCode: number;
  signal: number;
  outputBytes: number;
  tag: string;
  command: string;
}

export function decodeProcessInfo(payload: Buffer): ProcessInfoFrame {
  const strings = payload.subarray(24);
  const tagEnd = strings.indexOf(0);
  const commandEnd = tagEnd < 0 ? -1 : strings.indexOf(0, tagEnd + 1);
  if (payload.length < 26 || tagEnd < 1 || tagEnd > 64 || commandEnd !== strings.length - 1) {
    throw new MalformedFrameError("a PROCESS_INFO frame no agent writes");
  }
  const tag = strings.subarray(0, tagEnd).toString("latin1");
  if (!/^[A-Za-z0-9_-]+$/.test(tag))
    throw new MalformedFrameError("a PROCESS_INFO frame with a bad tag");
  return {
    pid: payload.readUInt32LE(0),
    running: payload[4] === 1,
    pty: payload[5] === 1,
    exitCode: payload.readInt32LE(8),
    signal: payload.readInt32LE(12),
    outputBytes: safeCount(payload.readBigUInt64LE(16)),
    tag,
    command: strings.subarray(tagEnd + 1, commandEnd).toString("utf8"),
  };
}

function safeCount(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedFrameError("a count past 2^53");
  return Number(value);
}
