import {
  type AgentRuntimeError,
  BackendError,
  type ExecRequest,
  type ExecResult,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { execThroughAgent } from "@cadre/agent-runtime-provider-utils";
import { providerId } from "../capabilities.js";
import type { OomWatch } from "../host/cgroup-oom.js";
import type { SessionAgent } from "./session-agents.js";

/** What the agent cannot tell about a session, read from containerd and the host. */
export interface AgentExecSession {
  sessionId: string;
  /** The session's host OOM counter, when it has a memory limit and its cgroup is here. */
  oomWatch: OomWatch | undefined;
  /** Whether this instance is stopping or has stopped the session. */
  haltedHere(): boolean;
  /**
   * After the link closed under a command: the typed error of a session that ended (stopped,
   * failed, removed), or undefined when it still runs.
   */
  endedError(): Promise<AgentRuntimeError | undefined>;
}

/**
 * Runs one command through the session's agent (provider-utils' execThroughAgent): one frame
 * out, its output and its exit back over the link the instance holds, no containerd call. What
 * the agent cannot tell is read from outside: a memory kill from the host's cgroup counters (the
 * agent sees only a SIGKILL, and under gVisor dies with the sandbox), the end of the session
 * from containerd.
 */
export function runAgentExec(
  session: AgentExecSession,
  agent: SessionAgent,
  request: ExecRequest,
): Promise<ExecResult> {
  return execThroughAgent(agent.link, agent.defaults, request, {
    providerId,
    async linkClosed(error) {
      // Under gVisor the memory limit kills the whole sandbox, the agent with it: the command's
      // result is that kill.
      if (await session.oomWatch?.killedSinceLastLook()) {
        return { exitCode: 137, limitExceeded: "memory" };
      }
      // The agent went with its session (a stop, a removal), or died, which ends the session.
      throw (
        (await session.endedError()) ??
        new BackendError(
          `${error.message} in session ${session.sessionId}; its next command reaches the agent anew`,
          { providerId, cause: error },
        )
      );
    },
    async exited(exitCode) {
      if (exitCode !== 0 && (await session.oomWatch?.killedSinceLastLook())) {
        return { exitCode: 137, limitExceeded: "memory" };
      }
      // Killed by this instance's stop before the agent went too.
      if (exitCode > 128 && session.haltedHere()) {
        throw new SessionNotRunningError(session.sessionId, "stopped", { providerId });
      }
      return { exitCode };
    },
  });
}
