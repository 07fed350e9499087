import type { Readable } from "node:stream";
import { z } from "zod";
import { PolicyValidationError } from "./errors.js";
import { argvSchema, type ExecKillReport } from "./exec.js";
import { absolutePathSchema, envSchema } from "./policy.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

/**
 * Processes in a session that outlive the call that started them (contract v1 addition,
 * `features.processes`): a dev server, a watcher, an interactive tool on a terminal. A process
 * dies with its session. Any provider instance can follow it again (`attach`), with a replay of
 * its recent output, after the one that started it went away.
 */
export interface ProviderProcesses {
  /** Starts `argv` (no shell) and follows it from its first byte. */
  spawn(sessionId: string, argv: string[], options?: SpawnOptions): Promise<ProcessHandle>;
  /** The session's processes, running and ended (an ended one is kept until its place is needed). */
  list(sessionId: string, options?: { signal?: AbortSignal }): Promise<ProcessInfo[]>;
  /** Follows a process again: what its output buffer still holds from `fromOffset`, then what comes. */
  attach(sessionId: string, processId: string, options?: AttachOptions): Promise<ProcessHandle>;
}

export interface SpawnOptions {
  /** Added to the session's environment. */
  env?: Record<string, string>;
  /** Absolute working directory inside the sandbox. */
  cwd?: string;
  /** At the deadline the process and everything it started are killed (`timedOut`). */
  timeoutMs?: number;
  /** Run on a pseudo-terminal of this size: its output is stdout only, `resize()` changes it. */
  pty?: { rows: number; cols: number };
  /** Output kept for those who attach later, in bytes: 64 KiB to 16 MiB, default 1 MiB. */
  outputBufferBytes?: number;
  /** The process's id (1 to 64 of A-Z a-z 0-9 _ -); by default a new one. */
  id?: string;
}

export interface AttachOptions {
  /**
   * Replay from this output offset (bytes of stdout and stderr together since the process
   * started); default 0: all its buffer still holds. `Number.MAX_SAFE_INTEGER`: only what comes.
   */
  fromOffset?: number;
}

export interface ProcessHandle extends AsyncDisposable {
  readonly id: string;
  readonly sessionId: string;
  /** Its pid inside the sandbox. */
  readonly pid: number;
  readonly pty: boolean;
  /**
   * Output this handle did not get: what the buffer no longer held when it attached, and what
   * it dropped while this handle did not read (after a second of not reading, a process no longer
   * waits for its reader).
   */
  readonly missedBytes: number;
  /** Its output, as it comes; reading slowly holds the process back (a second at most). */
  readonly stdout: Readable;
  /** Empty for a process on a terminal. */
  readonly stderr: Readable;
  /**
   * Resolves with how it ended. Output nobody reads is discarded meanwhile (the process's buffer
   * keeps the newest for `attach`).
   */
  wait(): Promise<ProcessExit>;
  /** To its stdin; resolves once the bytes are on their way. */
  write(data: string | Uint8Array): Promise<void>;
  /** EOF on its stdin (a terminal gets its end-of-file character). */
  closeStdin(): Promise<void>;
  /** A signal to its process group; without one, or with SIGKILL, its whole tree is killed. */
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** A terminal process's size. */
  resize(rows: number, cols: number): Promise<void>;
  /** Stops following it; it goes on. `wait()` after it follows it again. Also `await using`. */
  detach(): Promise<void>;
}

export interface ProcessExit {
  /** 128 + n when a signal ended it; 127 or 126 when it could not start. */
  exitCode: number;
  signal?: string;
  timedOut: boolean;
  /** Set when it was killed (its deadline, or kill()): what the kill reached. */
  kill?: ExecKillReport;
}

export interface ProcessInfo {
  id: string;
  pid: number;
  /** argv[0] only: its arguments may hold what a listing must not show. */
  command: string;
  state: "running" | "exited";
  exitCode?: number;
  signal?: string;
  pty: boolean;
  /** Output bytes it wrote so far. */
  outputBytes: number;
}

/** The limits every provider serves. */
export const processLimits = {
  minOutputBufferBytes: 64 * 1024,
  maxOutputBufferBytes: 16 * 1024 * 1024,
  defaultOutputBufferBytes: 1024 * 1024,
  /** Processes running at once in one session; more is RESOURCE_LIMIT. */
  perSession: 64,
  maxTerminalSide: 1000,
} as const;

export const processIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1 to 64 of A-Z a-z 0-9 _ -" });

const terminalSide = z.number().int().min(1).max(processLimits.maxTerminalSide);

const spawnOptionsSchema = z.strictObject({
  env: envSchema.optional(),
  cwd: absolutePathSchema.optional(),
  timeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  pty: z.strictObject({ rows: terminalSide, cols: terminalSide }).optional(),
  outputBufferBytes: z
    .number()
    .int()
    .min(processLimits.minOutputBufferBytes)
    .max(processLimits.maxOutputBufferBytes)
    .optional(),
  id: processIdSchema.optional(),
});

const attachOptionsSchema = z.strictObject({
  fromOffset: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

export interface SpawnRequest {
  argv: string[];
  options: z.output<typeof spawnOptionsSchema>;
}

function refuse(
  issues: ReturnType<typeof toPolicyIssues>,
  subject: string,
  providerId?: string,
): void {
  if (issues.length > 0) throw new PolicyValidationError(issues, { subject, providerId });
}

/** Validates spawn's arguments; throws POLICY_INVALID naming every bad path. */
export function parseSpawnRequest(
  argv: unknown,
  options: unknown,
  providerId?: string,
): SpawnRequest {
  const parsed = safeParseInput(spawnOptionsSchema.optional(), options);
  refuse(
    [
      ...toPolicyIssues(safeParseInput(argvSchema, argv).error, "argv"),
      ...toPolicyIssues(parsed.error, "options"),
    ],
    "spawn request",
    providerId,
  );
  return { argv: argv as string[], options: parsed.data ?? {} };
}

/** Validates attach's arguments. */
export function parseAttachRequest(
  processId: unknown,
  options: unknown,
  providerId?: string,
): { processId: string; fromOffset: number } {
  const parsed = safeParseInput(attachOptionsSchema.optional(), options);
  refuse(
    [
      ...toPolicyIssues(safeParseInput(processIdSchema, processId).error, "processId"),
      ...toPolicyIssues(parsed.error, "options"),
    ],
    "attach request",
    providerId,
  );
  return { processId: processId as string, fromOffset: parsed.data?.fromOffset ?? 0 };
}

/** A signal by name or number, as kill() takes it; throws POLICY_INVALID for one that is not. */
export function parseSignal(
  signal: unknown,
  known: Record<string, number>,
  providerId?: string,
): number | "tree" {
  if (signal === undefined || signal === "SIGKILL" || signal === 9) return "tree";
  if (typeof signal === "string" && known[signal] !== undefined) return known[signal] as number;
  if (typeof signal === "number" && Number.isInteger(signal) && signal >= 1 && signal <= 64)
    return signal;
  throw new PolicyValidationError(
    [
      {
        path: "signal",
        message: "must be a signal name such as SIGTERM, or a number from 1 to 64",
      },
    ],
    { subject: "kill request", providerId },
  );
}
