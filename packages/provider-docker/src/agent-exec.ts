import { BackendError, type ExecRequest, type ExecResult } from "@cadre/agent-runtime-contract";
import { execThroughAgent } from "@cadre/agent-runtime-provider-utils";
import type { SessionAgent } from "./agent-session.js";
import type { DockerClient } from "./docker-client.js";
import {
  type ExecSession,
  killedByMemoryLimit,
  notRunning,
  sessionEndedError,
} from "./exec-outcome.js";

/**
 * Runs one command through the session's agent: one frame out, its output and its exit back over
 * the attach stream the session already has, no Engine API call. What the agent cannot tell is
 * read from the daemon: a memory kill (the host's cgroup counter) and the end of the session.
 */
export function runAgentExec(
  client: DockerClient,
  session: ExecSession,
  agent: SessionAgent,
  request: ExecRequest,
): Promise<ExecResult> {
  return execThroughAgent(agent.link, agent, request, {
    providerId: client.providerId,
    async linkClosed(error) {
      // Under gVisor the memory limit kills the whole sandbox, the agent with it: the command's
      // result is that kill, as an engine exec reports it.
      if (await killedByMemoryLimit(client, session, undefined)) {
        return { exitCode: 137, limitExceeded: "memory", ...(await client.memorySeen(session)) };
      }
      // The agent went with its session (a stop, a removal), or died, which ends the session.
      throw (
        (await sessionEndedError(client, session)) ??
        new BackendError(`${error.message}; the session can run no more commands`, {
          providerId: client.providerId,
          cause: error,
        })
      );
    },
    async exited(exitCode) {
      if (await killedByMemoryLimit(client, session, exitCode)) {
        return { exitCode: 137, limitExceeded: "memory", ...(await client.memorySeen(session)) };
      }
      if (exitCode > 128 && session.haltedHere()) throw notRunning(client, session);
      // A command that failed after the pids limit refused it a fork: that limit ended it. Read
      // only after a failure, so a command that succeeds costs no read.
      const pids = exitCode !== 0 ? await client.pidsRefusedSinceLastLook(session) : undefined;
      if (pids) return { exitCode, limitExceeded: "pids", ...pids };
      return { exitCode };
    },
  });
}
