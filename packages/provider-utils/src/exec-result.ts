import type { ExecResult } from "@cadre/agent-runtime-contract";
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
}

/** The ExecResult of a command that ran: output and flags from its collector and deadline. */
export function execResultOf(outcome: CommandOutcome): ExecResult {
  const { exitCode, collector, deadline } = outcome;
  const result: ExecResult = {
    exitCode,
    stdout: collector.text("stdout"),
    stderr: collector.text("stderr"),
    timedOut: deadline.timedOut,
    truncated: collector.truncated,
    durationMs: Math.round(performance.now() - outcome.startedAt),
  };
  const signal = outcome.signal === undefined ? signalForExitCode(exitCode) : outcome.signal;
  if (signal) result.signal = signal;
  if (outcome.limitExceeded) result.limitExceeded = outcome.limitExceeded;
  return result;
}
