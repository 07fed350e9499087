import {
  BackendError,
  ProviderUnavailableError,
  ResourceLimitError,
} from "@cadre/agent-runtime-contract";
import { AgentRefusedError, agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { stubProviderId } from "./capabilities.js";
import { agentBinaryCheck, subreaperCheck } from "./doctor.js";

/** This host's cadre-agent binary; PROVIDER_UNAVAILABLE, with the doctor check, without one. */
export function requireAgentBinary(): string {
  const binary = agentBinaryPath();
  if (binary) return binary;
  throw new ProviderUnavailableError("The stub cannot start a session without cadre-agent.", {
    providerId: stubProviderId,
    checks: [agentBinaryCheck()],
  });
}

/**
 * Why the session's agent did not start: a kernel without child subreapers (the agent refuses
 * to run as a plain process there) or an unusable binary is PROVIDER_UNAVAILABLE with its
 * doctor check; no process or memory left is RESOURCE_LIMIT; anything else BACKEND_ERROR.
 */
export function agentStartError(error: unknown, binary: string, exit?: string): Error {
  if (error instanceof AgentRefusedError && error.reason === "subreaper") {
    return new ProviderUnavailableError(
      "The stub cannot run commands on this kernel: cadre-agent refused to start.",
      { providerId: stubProviderId, cause: error, checks: [subreaperCheck(false, error.detail)] },
    );
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const limit = resourceLimit(code, `start cadre-agent (${binary})`, error);
  if (limit) return limit;
  if (code === "ENOENT" || code === "EACCES" || code === "ENOEXEC") {
    return new ProviderUnavailableError(`The stub could not run ${binary} (${code}).`, {
      providerId: stubProviderId,
      cause: error,
      checks: [agentBinaryCheck()],
    });
  }
  const ended = exit
    ? ` It exited with ${exit}${exit === "code 3" ? " (it could not bind its socket)" : ""}.`
    : "";
  return new BackendError(
    `The stub could not start the session's agent: ${(error as Error).message}.${ended} Try again; run doctor() if it persists.`,
    { providerId: stubProviderId, cause: error },
  );
}

/** RESOURCE_LIMIT for an agent that could not be made: EAGAIN (pids) or ENOMEM (memory). */
function resourceLimit(
  code: string | undefined,
  what: string,
  cause: unknown,
): ResourceLimitError | undefined {
  const resource = code === "EAGAIN" ? "pids" : code === "ENOMEM" ? "memory" : undefined;
  if (!resource) return undefined;
  const why = resource === "pids" ? "no process can be created" : "there is no memory left";
  return new ResourceLimitError(
    resource,
    `The stub could not ${what}: ${why} on this host or in the agent's cgroup (${code}). Wait for other commands or sessions to end (destroySession frees their processes), or raise the limit, and run it again.`,
    { providerId: stubProviderId, cause },
  );
}
