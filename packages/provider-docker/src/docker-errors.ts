import {
  AgentRuntimeError,
  BackendError,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import type { ConnectionKind } from "./connection.js";
import { daemonCheck, imageCheck } from "./doctor-checks.js";

/**
 * How DockerClient turns what dockerode rejects with into the contract's errors. Nothing else
 * sees a dockerode error.
 */

/** What dockerode rejects with: an HTTP status from the daemon, or a socket error code. */
interface DockerodeError {
  statusCode?: number;
  code?: string;
  /** ssh2's errors carry the stage that failed ("client-authentication", "client-socket", ...). */
  level?: string;
  json?: { message?: string } | null;
  message?: string;
}

/** Who reports the error, and the daemon's address for its message. */
export interface ErrorContext {
  providerId: string;
  address: string;
  kind?: ConnectionKind;
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

/**
 * Whether the daemon says the container does not exist: 404, or Podman's 500 "no such container"
 * for one removed while the call ran (4.3.1: "does not exist in database").
 */
export function containerGone(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 404) return true;
  return status === 500 && /no such container/i.test(daemonMessage(error));
}

/** The daemon's own message, without dockerode's "(HTTP code ...)" wrapping. */
export function daemonMessage(error: unknown): string {
  const e = error as DockerodeError | undefined;
  return (e?.json?.message ?? e?.message ?? String(error)).trim();
}

/** Node's codes of a TLS handshake that failed: an unverified or refused certificate. */
const tlsCode = /CERT|TLS|SSL|EPROTO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/;

function isConnectionError(error: unknown): boolean {
  const e = error as DockerodeError | undefined;
  if (e?.statusCode !== undefined) return false;
  if (typeof e?.level === "string" && e.level.startsWith("client-")) return true;
  return e?.code !== undefined && (connectionCodes.has(e.code) || tlsCode.test(e.code));
}

function unavailable(error: unknown, context: ErrorContext): ProviderUnavailableError {
  const code = (error as DockerodeError | undefined)?.code;
  const denied = code === "EACCES" || code === "EPERM";
  return new ProviderUnavailableError(`The Docker daemon at ${context.address} is not reachable.`, {
    providerId: context.providerId,
    cause: error,
    checks: [
      daemonCheck(context.address, code ?? daemonMessage(error), denied, context.kind ?? "socket"),
    ],
  });
}

function backendError(error: unknown, action: string, providerId: string): BackendError {
  return new BackendError(
    `Docker failed to ${action}: ${daemonMessage(error)}. Check the daemon's log (journalctl -u docker) and retry.`,
    { providerId, cause: error },
  );
}

/** An error of a call that concerns no one session: daemon down, or BACKEND_ERROR with the cause. */
export function daemonCallError(
  error: unknown,
  action: string,
  context: ErrorContext,
): AgentRuntimeError {
  if (AgentRuntimeError.isInstance(error)) return error;
  if (isConnectionError(error)) return unavailable(error, context);
  return backendError(error, action, context.providerId);
}

/**
 * An error of a call about one session: unknown container, container not running, daemon down;
 * anything else becomes BACKEND_ERROR with the cause.
 */
export function sessionCallError(
  error: unknown,
  sessionId: string,
  action: string,
  context: ErrorContext,
): AgentRuntimeError {
  if (AgentRuntimeError.isInstance(error)) return error;
  const { providerId } = context;
  if (isConnectionError(error)) return unavailable(error, context);
  const status = statusOf(error);
  const message = daemonMessage(error);
  if (containerGone(error) && /no such container/i.test(message)) {
    return new SessionNotFoundError(sessionId, { providerId, cause: error });
  }
  if (status === 409 && /is not running|is paused|is restarting/i.test(message)) {
    const state = /is paused/i.test(message) ? "paused" : "stopped";
    return new SessionNotRunningError(sessionId, state, { providerId, cause: error });
  }
  return backendError(error, action, providerId);
}

/** An error of creating a container: a missing image is the operator's to load, never pulled. */
export function createError(
  error: unknown,
  image: string,
  context: ErrorContext,
): AgentRuntimeError {
  if (statusOf(error) === 404 && /no such image/i.test(daemonMessage(error))) {
    return new ProviderUnavailableError(
      `The image ${image} is not in the Docker daemon's image store.`,
      { providerId: context.providerId, cause: error, checks: [imageCheck(image, false)] },
    );
  }
  return daemonCallError(error, "create the session's container", context);
}
