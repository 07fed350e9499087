import { AgentRuntimeError } from "@cadre/agent-runtime-contract";
import { NoAnswerError } from "./bounded.js";

/** An exec that answered, but not what the command prints. */
export class WrongResultError extends Error {
  override name = "WrongResultError";
}

/** The contract's code of an error; "NO_ANSWER" for a hang; "UNTYPED" for anything else. */
export function errorCode(error: unknown): string {
  if (AgentRuntimeError.isInstance(error)) return (error as AgentRuntimeError).code;
  if (error instanceof NoAnswerError) return "NO_ANSWER";
  if (error instanceof WrongResultError) return "WRONG_RESULT";
  return "UNTYPED";
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
