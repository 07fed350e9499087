import {
  AgentRuntimeError,
  BackendError,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { providerId } from "./capabilities.js";
import { grpcDetails, isUnavailable } from "./containerd/grpc-errors.js";

/** Wraps an engine error: contract errors pass through, the rest become typed errors with cause. */
export function wrapBackendError(
  error: unknown,
  action: string,
  address: string,
): AgentRuntimeError {
  if (AgentRuntimeError.isInstance(error)) return error as AgentRuntimeError;
  if (isUnavailable(error)) {
    return new ProviderUnavailableError(
      `containerd at ${address} did not answer while trying to ${action}: ${grpcDetails(error)}. Check that containerd runs (doctor() says what is missing).`,
      { providerId, cause: error },
    );
  }
  return new BackendError(
    `containerd failed to ${action}: ${grpcDetails(error)}. Check containerd's log; if it persists, run doctor().`,
    { providerId, cause: error },
  );
}
