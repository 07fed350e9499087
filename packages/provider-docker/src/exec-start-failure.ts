/**
 * When the runtime cannot start an exec's program, Docker ends the exec with 126 and writes the
 * runtime's message to its output, for a missing program too. A shell says 127 for that case, as
 * the contract expects: this tells the two apart from the message (runc and runsc wording).
 */
export function exitCodeForStartFailure(exitCode: number, stdout: string): number {
  if (exitCode !== 126 || !stdout.startsWith("OCI runtime exec failed")) return exitCode;
  return /executable file not found|no such file or directory/.test(stdout) ? 127 : exitCode;
}
