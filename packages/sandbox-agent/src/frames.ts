/**
 * The agent's wire protocol, version 1, as agent/protocol.h defines it: a 9-byte header
 * (u32 payload length, u8 type, u32 channel, little-endian), then the payload.
 */
export const protocolName = "cadre-agent/1";
export const headerBytes = 9;
/** The largest frame the host accepts from the agent: data frames are at most 32 KiB. */
export const maxAgentPayload = 64 * 1024;
/** The largest frame the agent accepts from the host. */
export const maxHostPayload = 4 * 1024 * 1024;

export const hostFrame = {
  exec: 0x01,
  stdin: 0x02,
  kill: 0x03,
  credit: 0x04,
  helloAgain: 0x05,
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
} as const;

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
}

function strings(list: readonly string[]): Buffer[] {
  const count = Buffer.alloc(4);
  count.writeUInt32LE(list.length, 0);
  return [count, ...list.map((s) => Buffer.from(`${s}\0`, "utf8"))];
}

export function encodeExec(exec: ExecFrame): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0, 0);
  fixed.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(exec.maxOutputBytes))), 4);
  fixed.writeUInt32LE(Math.min(0xffffffff, Math.max(0, Math.ceil(exec.timeoutMs))), 12);
  return Buffer.concat([
    fixed,
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
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxPayload: number) {}

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= headerBytes) {
      const length = this.pending.readUInt32LE(0);
      if (length > this.maxPayload) {
        throw new MalformedFrameError(
          `a frame of ${length} bytes, past the limit of ${this.maxPayload}`,
        );
      }
      if (this.pending.length < headerBytes + length) break;
      frames.push({
        type: this.pending.readUInt8(4),
        channel: this.pending.readUInt32LE(5),
        payload: this.pending.subarray(headerBytes, headerBytes + length),
      });
      this.pending = this.pending.subarray(headerBytes + length);
    }
    return frames;
  }
}
