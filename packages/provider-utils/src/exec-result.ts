import { type ExecEndDetail, type ExecResult, execEndCause } from "@cadre/agent-runtime-contract";
import type { ExecDeadline } from "./exec-deadline.js";
import type { OutputCollector } from "./output-collector.js";
import { signalForExitCode } from "./signals.js";

export interface CommandOutcome {
  exitCode: number;
  collector: OutputCollector;
  deadline: ExecDeadline;
  /** `performance.now()` when the exec began. */
  startedAt: number;
  /**
   * The signal that ended the command, when the provider saw it itself (a host process); null
   * when it exited on its own. Left out, it is read from the exit code (137 is SIGKILL), as
   * engines report only exit codes.
   */
  signal?: string | null;
  limitExceeded?: ExecResult["limitExceeded"];
  /** The limit that ended it and what the host saw (with limitExceeded). */
  limit?: number;
  value?: number;
  /** Its session stopped or went under it. */
  sessionEnded?: boolean;
  /** Its deadline ran out where the provider's own timer did not see it (the agent's timer). */
  timedOut?: boolean;
}

/** The ExecResult of a command that ran: output and flags from its collector and deadline. */
export function execResultOf(outcome: CommandOutcome): ExecResult {
  const { exitCode, collector, deadline } = outcome;
  const result: Omit<ExecResult, "cause"> & Partial<Pick<ExecResult, "cause">> = {
    exitCode,
    stdout: collector.text("stdout"),
    stderr: collector.text("stderr"),
    timedOut: outcome.timedOut || deadline.timedOut,
    truncated: collector.truncated,
    durationMs: Math.round(performance.now() - outcome.startedAt),
  };
  const signal = outcome.signal === undefined ? signalForExitCode(exitCode) : outcome.signal;
  if (signal) result.signal = signal;
  if (outcome.limitExceeded) result.limitExceeded = outcome.limitExceeded;
  return withCause(result, {
    ...(deadline.timeoutMs !== undefined ? { timeoutMs: deadline.timeoutMs } : {}),
    ...(outcome.limit !== undefined ? { limit: outcome.limit } : {}),
    ...(outcome.value !== undefined ? { value: outcome.value } : {}),
    ...(outcome.sessionEnded ? { sessionEnded: true } : {}),
  });
}

/** `result` with its cause, read again from its fields (after a caller changed timedOut, say). */
export function withCause(
  result: Omit<ExecResult, "cause"> & Partial<Pick<ExecResult, "cause">>,
  detail: ExecEndDetail = {},
): ExecResult {
  return Object.assign(result, { cause: execEndCause(result, detail) });
}
