import { constants } from "node:os";

/** The contract's exit code for a command killed by a signal: 128 + its number. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** "SIGKILL" for 137, when the exit code is one a shell gives for a signal. */
export function signalForExitCode(exitCode: number): string | undefined {
  if (exitCode <= 128 || exitCode > 128 + 64) return undefined;
  const n = exitCode - 128;
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
}
