import type { ExecEndKind, ExecOptions, IsolationProvider } from "@cadre/agent-runtime-contract";
import { progress } from "./output.js";

/** What stderr says when something other than the command itself ended it (result.cause). */
const endNotes: Partial<Record<ExecEndKind, string>> = {
  timeout: "the command timed out and was killed",
  memory: "the session's memory limit ended the command",
  pids: "the session's process limit ended the command",
  "session-ended": "the session ended under the command",
  "agent-lost": "the session's agent went away under the command",
  "engine-lost": "the engine went away under the command",
};

/**
 * Runs argv in the session with its output streamed to this process's stdout and stderr as it
 * comes, and says on stderr what ended it when that was not the command itself. Returns its exit
 * status (128 + n for signal n).
 */
export async function streamExec(
  provider: IsolationProvider,
  sessionId: string,
  argv: string[],
  options: Pick<ExecOptions, "env" | "cwd" | "stdin" | "timeoutMs" | "signal">,
): Promise<number> {
  const result = await provider.exec(sessionId, argv, {
    ...options,
    onStdout: (chunk) => process.stdout.write(chunk),
    onStderr: (chunk) => process.stderr.write(chunk),
  });
  const note = endNotes[result.cause.kind];
  if (note) progress(`${note} (${result.signal ?? `exit ${result.exitCode}`})`);
  if (result.truncated) progress("output beyond the limit was dropped");
  return result.exitCode;
}
