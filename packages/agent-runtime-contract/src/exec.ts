import { z } from "zod";
import { PolicyValidationError } from "./errors.js";
import { absolutePathSchema, envSchema } from "./policy.js";
import { argBytes, checkStringBytes, checkTotalBytes, sizeLimits } from "./size-limits.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

/** Output kept per exec when the caller sets no maxOutputBytes: stdout and stderr together. */
export const defaultMaxOutputBytes = 16 * 1024 * 1024;

export interface ExecOptions {
  /** Added to the session's environment for this command. */
  env?: Record<string, string>;
  /** Absolute working directory inside the sandbox. */
  cwd?: string;
  /** Written to the command's stdin, which is then closed. Without it stdin is empty. */
  stdin?: string | Uint8Array;
  /** At the deadline the command and all its children are killed; the result has timedOut. */
  timeoutMs?: number;
  /** On abort the command and all its children are killed and exec rejects with signal.reason. */
  signal?: AbortSignal;
  /** Bytes of stdout and stderr kept, together; the rest is dropped and truncated is set. */
  maxOutputBytes?: number;
  /** Receives stdout as it arrives: exactly the bytes that the result keeps. */
  onStdout?: (chunk: Uint8Array) => void;
  /** Receives stderr as it arrives: exactly the bytes that the result keeps. */
  onStderr?: (chunk: Uint8Array) => void;
}

export interface ExecResult {
  /** The command's exit status; 128 + n when it was killed by signal n. A non-zero exit is not an error. */
  exitCode: number;
  /** UTF-8 decoded; invalid sequences become U+FFFD. */
  stdout: string;
  stderr: string;
  /** Name of the signal that ended the command, e.g. "SIGKILL". */
  signal?: string;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
  /** Set when the provider knows that a session limit ended the command (an OOM kill). */
  limitExceeded?: "memory" | "pids";
  /** Why the command ended, as one typed cause (contract v1 addition; see ExecEndCause). */
  cause: ExecEndCause;
  /**
   * Set when the provider killed the command (its deadline ran out): what the kill reached. A
   * timed-out exec settles by its deadline plus {@link execKillGraceMs} whatever the command
   * does to its environment, process group or session; this says whether every process it
   * started is known to be gone.
   */
  kill?: ExecKillReport;
}

/**
 * Why a command ended. `exited`: on its own, with its exit code; `signal`: a signal it did not get
 * from the provider; `timeout`: its deadline (limit: timeoutMs, value: how long it ran);
 * `memory`, `pids`: a session limit ended it (limit: the limit, value: what the host's cgroup saw,
 * the peak bytes or the processes); `session-ended`: its session stopped or went under it;
 * `agent-lost`, `engine-lost`: what ran it went away. An exec the caller aborted rejects with the
 * caller's reason, so `aborted` appears in events and traces, never in a result.
 */
export interface ExecEndCause {
  kind: ExecEndKind;
  /** The limit that was hit, in its unit (ms, bytes, processes). */
  limit?: number;
  /** What was seen of it. */
  value?: number;
  /** The signal's name, for `signal` (and `session-ended` when a signal came with it). */
  signal?: string;
}

export type ExecEndKind =
  | "exited"
  | "signal"
  | "timeout"
  | "aborted"
  | "memory"
  | "pids"
  | "session-ended"
  | "agent-lost"
  | "engine-lost";

/** What a provider knows of an end beyond the result's own fields. */
export interface ExecEndDetail {
  /** The exec's timeoutMs, for a timeout. */
  timeoutMs?: number;
  /** The limit that ended it (memory, pids) and what was seen. */
  limit?: number;
  value?: number;
  /** Its session stopped or went under it. */
  sessionEnded?: boolean;
}

/** The one reading of why a command ended, from its result and what the provider knows. */
export function execEndCause(
  result: Pick<ExecResult, "signal" | "timedOut" | "limitExceeded" | "durationMs">,
  detail: ExecEndDetail = {},
): ExecEndCause {
  const measured = (limit: number | undefined, value: number | undefined) => ({
    ...(limit !== undefined ? { limit } : {}),
    ...(value !== undefined ? { value } : {}),
  });
  if (result.limitExceeded)
    return { kind: result.limitExceeded, ...measured(detail.limit, detail.value) };
  if (result.timedOut) return { kind: "timeout", ...measured(detail.timeoutMs, result.durationMs) };
  const signal = result.signal ? { signal: result.signal } : {};
  if (detail.sessionEnded) return { kind: "session-ended", ...signal };
  if (result.signal) return { kind: "signal", ...signal };
  return { kind: "exited" };
}

/** What killing a command's processes at its deadline reached. */
export interface ExecKillReport {
  /**
   * True when the provider verified that no process the command started is left. False when it
   * could not make sure (a process it could not attribute, a kill that failed): the command may
   * have left processes behind until the session ends.
   */
  complete: boolean;
  /** How the provider found the command's processes, e.g. "exec tag, ancestry and orphans". */
  method: string;
  /** Processes it found but could not kill, when it could count them. */
  survivors?: number;
}

/**
 * How long after its deadline a timed-out exec may take to settle: killing the command's
 * processes and closing its output. Providers keep to it on a loaded host; the conformance suite
 * allows for slow backends on top through its timeScale.
 */
export const execKillGraceMs = 10_000;

export const argvSchema = z
  .array(
    z.string().refine((s) => !s.includes("\0"), { message: "must not contain NUL bytes" }),
    {
      message: "argv must be an array of strings",
    },
  )
  .min(1, { message: 'argv must name a program, e.g. ["ls", "-l"]' })
  .refine((a) => a[0] !== "", { message: "argv[0] must not be empty", path: [0] })
  .superRefine((argv, ctx) => {
    for (const [i, arg] of argv.entries()) checkStringBytes(arg, ctx, `argument ${i}`, [i]);
    checkTotalBytes(argv, argBytes, sizeLimits.argv.maxTotalBytes, ctx, "the arguments");
  });

const callback = z.custom<(chunk: Uint8Array) => void>((v) => typeof v === "function", {
  message: "must be a function",
});

const execOptionsSchema = z
  .strictObject({
    env: envSchema.optional(),
    cwd: absolutePathSchema.optional(),
    stdin: z.union([z.string(), z.instanceof(Uint8Array)]).optional(),
    timeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
    signal: z.instanceof(AbortSignal).optional(),
    maxOutputBytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    onStdout: callback.optional(),
    onStderr: callback.optional(),
  })
  .optional();

export interface ExecRequest {
  argv: string[];
  options: ExecOptions & { maxOutputBytes: number };
}

/** Validates exec's arguments; throws POLICY_INVALID naming every bad path. */
export function parseExecRequest(
  argv: unknown,
  options: unknown,
  providerId?: string,
): ExecRequest {
  const issues = [
    ...toPolicyIssues(safeParseInput(argvSchema, argv).error, "argv"),
    ...toPolicyIssues(safeParseInput(execOptionsSchema, options).error, "options"),
  ];
  if (issues.length > 0) {
    throw new PolicyValidationError(issues, { subject: "exec request", providerId });
  }
  const opts = (options ?? {}) as ExecOptions;
  return {
    argv: argv as string[],
    options: { ...opts, maxOutputBytes: opts.maxOutputBytes ?? defaultMaxOutputBytes },
  };
}
