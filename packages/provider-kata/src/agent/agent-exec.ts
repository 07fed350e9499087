import {
  type AgentRuntimeError,
  BackendError,
  type ExecRequest,
  type ExecResult,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { execThroughAgent, type LimitWatch } from "@cadre/agent-runtime-provider-utils";
import { providerId } from "../capabilities.js";
import type { SessionAgent } from "./session-agents.js";

/** What the agent cannot tell about a session, read from containerd and the host. */
export interface AgentExecSession {
  sessionId: string;
  /** The session's cgroup counters on this host (a real Kata VM's guest cgroups are not here). */
  limits: LimitWatch;
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
      const memory = await session.limits.memoryKilled();
      if (memory) return { exitCode: 137, limitExceeded: "memory", ...memory };
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
      if (exitCode === 0) return { exitCode };
      const memory = await session.limits.memoryKilled();
      if (memory) return { exitCode: 137, limitExceeded: "memory", ...memory };
      // Killed by this instance's stop before the agent went too.
      if (exitCode > 128 && session.haltedHere()) {
        throw new SessionNotRunningError(session.sessionId, "stopped", { providerId });
      }
      // It failed after the pids limit refused it a fork: that limit ended it.
      const pids = await session.limits.pidsRefused();
      if (pids) return { exitCode, limitExceeded: "pids", ...pids };
      return { exitCode };
    },
  });
}
