import {
  BackendError,
  ProcessNotFoundError,
  ResourceLimitError,
} from "@cadre/agent-runtime-contract";
import { AgentFaultError, MalformedFrameError } from "@cadre/agent-runtime-sandbox-agent";

/**
 * The contract's error for what the agent refused of a processes call: no such process, too many
 * at once, a broken protocol. Errors that are already the contract's pass through.
 */
export function processCallError(
  error: unknown,
  context: { providerId: string; sessionId: string; processId: string },
): unknown {
  const { providerId, sessionId, processId } = context;
  if (error instanceof AgentFaultError) {
    if (error.message.includes("no process with that tag")) {
      return new ProcessNotFoundError(sessionId, processId, { providerId, cause: error });
    }
    if (error.message.includes("too many processes")) {
      return new ResourceLimitError(
        "pids",
        `Session ${sessionId} runs as many processes as it may (64): wait for one to end, or kill one, and spawn again.`,
        { providerId, cause: error },
      );
    }
    if (error.message.includes("tag exists")) {
      return new BackendError(
        `Session ${sessionId} has a process ${JSON.stringify(processId)} already: choose another id, or leave it out for a new one.`,
        { providerId, cause: error },
      );
    }
  }
  if (error instanceof AgentFaultError || error instanceof MalformedFrameError) {
    return new BackendError(
      `The session's agent refused a processes call (${error.message}). Try again; destroy the session if it persists.`,
      { providerId, cause: error },
    );
  }
  return error;
}
