import {
  BackendError,
  type ExecOptions,
  type ExecResult,
  safeParseInput,
} from "@cadre/agent-runtime-contract";
import { exitCodeForSignal, OutputCollector, withCause } from "@cadre/agent-runtime-provider-utils";
import { stubProviderId } from "./capabilities.js";
import { scriptedResultSchema } from "./options.js";

/**
 * A result that no process produced (a scripted answer, or a command the stub refused to start),
 * delivered like a real one: through the output cap and the streaming callbacks.
 */
export function syntheticResult(
  partial: Partial<ExecResult>,
  options: ExecOptions & { maxOutputBytes: number },
  startedAt: number,
): ExecResult {
  const checked = safeParseInput(scriptedResultSchema, partial);
  if (!checked.success) {
    throw new BackendError(
      `The stub's script returned an invalid result (${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}). Fix the script.`,
      { providerId: stubProviderId, cause: checked.error },
    );
  }
  const given = checked.data;
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  if (given.stdout) collector.push("stdout", Buffer.from(given.stdout));
  if (given.stderr) collector.push("stderr", Buffer.from(given.stderr));
  const signalExit = given.signal ? exitCodeForSignal(given.signal as NodeJS.Signals) : 0;
  const result: Omit<ExecResult, "cause"> = {
    exitCode: given.exitCode ?? signalExit,
    stdout: collector.text("stdout"),
    stderr: collector.text("stderr"),
    timedOut: given.timedOut ?? false,
    truncated: collector.truncated || (given.truncated ?? false),
    durationMs: given.durationMs ?? Math.round(performance.now() - startedAt),
  };
  if (given.signal) result.signal = given.signal;
  if (given.limitExceeded) result.limitExceeded = given.limitExceeded;
  return withCause(result);
}
