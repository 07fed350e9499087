import {
  AgentRuntimeError,
  BackendError,
  type DoctorCheck,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";

/** What dockerode rejects with: an HTTP status from the daemon, or a socket error code. */
interface DockerodeError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  message?: string;
}

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ENOENT",
  "EACCES",
  "EPERM",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EPIPE",
]);

export function statusOf(error: unknown): number | undefined {
  return (error as DockerodeError | undefined)?.statusCode;
}

/** The daemon's own message, without dockerode's "(HTTP code ...)" wrapping. */
export function daemonMessage(error: unknown): string {
  const e = error as DockerodeError | undefined;
  return (e?.json?.message ?? e?.message ?? String(error)).trim();
}

export function isConnectionError(error: unknown): boolean {
  const e = error as DockerodeError | undefined;
  return e?.statusCode === undefined && e?.code !== undefined && connectionCodes.has(e.code);
}

export function daemonCheck(address: string, error: unknown): DoctorCheck {
  const e = error as DockerodeError | undefined;
  const denied = e?.code === "EACCES" || e?.code === "EPERM";
  return {
    id: "docker.daemon",
    title: "Docker daemon reachable",
    ok: false,
    required: true,
    detail: `cannot connect to ${address}: ${e?.code ?? daemonMessage(error)}`,
    fix: denied
      ? "add this user to the docker group (or run as root), then log in again"
      : "start the daemon (`systemctl start docker`, or `bash scripts/services.sh up` on a test host), or point DOCKER_HOST / the socketPath option at a running one",
  };
}

export function unavailable(
  address: string,
  error: unknown,
  providerId: string,
): ProviderUnavailableError {
  return new ProviderUnavailableError(`The Docker daemon at ${address} is not reachable.`, {
    providerId,
    cause: error,
    checks: [daemonCheck(address, error)],
  });
}

/**
 * Turns an error from a call about one session into the contract's errors: unknown container,
 * container not running, daemon down; anything else becomes BACKEND_ERROR with the cause.
 */
export function sessionCallError(
  error: unknown,
  context: { sessionId: string; action: string; providerId: string; address: string },
): AgentRuntimeError {
  if (AgentRuntimeError.isInstance(error)) return error;
  const { sessionId, providerId } = context;
  if (isConnectionError(error)) return unavailable(context.address, error, providerId);
  const status = statusOf(error);
  const message = daemonMessage(error);
  if (status === 404 && /no such container/i.test(message)) {
    return new SessionNotFoundError(sessionId, { providerId, cause: error });
  }
  if (status === 409 && /is not running|is paused|is restarting/i.test(message)) {
    const state = /is paused/i.test(message) ? "paused" : "stopped";
    return new SessionNotRunningError(sessionId, state, { providerId, cause: error });
  }
  return backendError(error, context.action, providerId);
}

export function backendError(error: unknown, action: string, providerId: string): BackendError {
  return new BackendError(
    `Docker failed to ${action}: ${daemonMessage(error)}. Check the daemon's log (journalctl -u docker) and retry.`,
    { providerId, cause: error },
  );
}
