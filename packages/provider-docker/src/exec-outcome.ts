import {
  type AgentRuntimeError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import type { ContainerRef, DockerClient } from "./docker-client.js";
import type { DockerRuntime } from "./options.js";

/** The session an exec runs in, as the exec needs to know it. */
export interface ExecSession extends ContainerRef {
  runtime: DockerRuntime;
  /** Whether this provider instance is stopping or has stopped the session (asked at the end). */
  haltedHere(): boolean;
}

/**
 * How an exec that the provider did not kill came to end, when its exit alone does not say: the
 * session's memory limit, the end of the session (a stop, a removal, a daemon shutdown), or the
 * command itself.
 */

/** How long an exec that gVisor ended with 128 waits for its sandbox to be recorded as dead. */
const sandboxExitWaitMs = 10_000;

/**
 * How long an exec that a signal ended (one the provider did not send) waits for its container to
 * be recorded as stopped, before the signal counts as the command's own.
 */
const sessionEndSettleMs = 500;

/**
 * Whether the memory limit ended the exec; `exitCode` is undefined when the container stopped
 * under it. Under runc the limit kills the process (137). Under gVisor it kills the whole
 * sandbox, and the exec ends with 137, with 128 before Docker has recorded the sandbox's end, or
 * with no exit at all.
 */
export async function killedByMemoryLimit(
  client: DockerClient,
  session: ExecSession,
  exitCode: number | undefined,
): Promise<boolean> {
  if (session.runtime === "runc") {
    return exitCode === 137 && (await client.oomKilledSinceLastLook(session));
  }
  if (exitCode !== undefined && exitCode !== 137 && exitCode !== 128) return false;
  if (exitCode === 128) {
    await client
      .waitUntilStopped(session, AbortSignal.timeout(sandboxExitWaitMs))
      .catch(() => false);
  }
  return client.oomKilledSinceLastLook(session);
}

/**
 * After a command ended by a signal that the provider did not send: the error to reject with when
 * the session ended under it (this instance stopped it, its container stopped or is gone), else
 * undefined, and the signal was the command's own. Rejects with the client's error when the
 * daemon cannot say (it is gone too).
 */
export async function sessionEndedError(
  client: DockerClient,
  session: ExecSession,
): Promise<AgentRuntimeError | undefined> {
  if (session.haltedHere()) return notRunning(client, session);
  const container = await client.inspectContainer(session);
  if (container === undefined) {
    return new SessionNotFoundError(session.sessionId, { providerId: client.providerId });
  }
  if (!container.running) return notRunning(client, session);
  // A daemon that is shutting down kills the container's processes before it records the
  // container as stopped: give that record a moment before calling the signal the command's own.
  const stoppedSoon = await client.waitUntilStopped(
    session,
    AbortSignal.timeout(sessionEndSettleMs),
  );
  return stoppedSoon ? notRunning(client, session) : undefined;
}

/** The error of an exec whose container stopped under it. */
export function notRunning(client: DockerClient, session: ExecSession): SessionNotRunningError {
  return new SessionNotRunningError(session.sessionId, "stopped", {
    providerId: client.providerId,
  });
}
