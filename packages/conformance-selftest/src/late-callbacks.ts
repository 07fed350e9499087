import type { ExecOptions, ExecResult } from "@cadre/agent-runtime-contract";

/**
 * Runs `exec` with callbacks that only collect, then hands the chunks to the caller's callbacks
 * once the command has ended: output arrives complete, but never while the command runs.
 */
export async function execWithLateCallbacks(
  exec: (options: ExecOptions) => Promise<ExecResult>,
  options: ExecOptions,
): Promise<ExecResult> {
  const { onStdout, onStderr, ...rest } = options;
  const stdout: Uint8Array[] = [];
  const stderr: Uint8Array[] = [];
  const result = await exec({
    ...rest,
    onStdout: (chunk) => stdout.push(Buffer.from(chunk)),
    onStderr: (chunk) => stderr.push(Buffer.from(chunk)),
  });
  for (const chunk of stdout) onStdout?.(chunk);
  for (const chunk of stderr) onStderr?.(chunk);
  return result;
}
