import type { ExecOptions, IsolationProvider } from "@cadre/agent-runtime-contract";
import { progress } from "./output.js";

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
  if (result.timedOut) {
    progress(`the command timed out and was killed (${result.signal ?? "exit"})`);
  }
  if (result.limitExceeded)
    progress(`the session's ${result.limitExceeded} limit ended the command`);
  if (result.truncated) progress("output beyond the limit was dropped");
  return result.exitCode;
}
