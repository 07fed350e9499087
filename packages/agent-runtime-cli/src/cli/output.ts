import { AgentRuntimeError } from "@cadre/agent-runtime-contract";
import { CommandError } from "./command-error.js";

/** Status and progress go to stderr, so stdout stays the command's output or the JSON. */
export function progress(message: string): void {
  process.stderr.write(`cadre-runtime: ${message}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One error, with its stable code when it is one of the runtime's typed errors. */
export function describeError(error: unknown): string {
  if (AgentRuntimeError.isInstance(error)) {
    const err = error as AgentRuntimeError;
    return `${err.code}: ${err.message}`;
  }
  if (error instanceof CommandError) {
    return error.code ? `${error.code}: ${error.message}` : error.message;
  }
  // A system call's failure on this host (a local path of `cp`): its message names the path.
  if (error instanceof Error && "syscall" in error) return error.message;
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}
