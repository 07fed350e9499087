import type { Readable, Writable } from "node:stream";
import { BackendError, PolicyValidationError } from "@cadre/agent-runtime-contract";
import { AgentLink, AgentRefusedError } from "@cadre/agent-runtime-sandbox-agent";

/** How long a session's agent may take to greet a host that attached to it. */
const helloTimeoutMs = 15_000;

/**
 * Opens the link to a session's agent over the stream a provider attached (`input` the agent's
 * output). The agent checks the session's user in the image before anything runs: a user it
 * refuses is POLICY_INVALID at `user`; any other failure is BACKEND_ERROR naming the session.
 * The caller closes its stream on a failure.
 */
export async function openAgentLink(
  input: Readable,
  output: Writable,
  session: { providerId: string; sessionId: string },
): Promise<AgentLink> {
  try {
    return await AgentLink.open(input, output, helloTimeoutMs);
  } catch (error) {
    const { providerId, sessionId } = session;
    if (error instanceof AgentRefusedError && error.reason === "user") {
      throw new PolicyValidationError([{ path: "user", message: error.detail }], {
        providerId,
        cause: error,
      });
    }
    throw new BackendError(
      `The agent of session ${sessionId} did not answer (${(error as Error).message}); destroy the session and start another.`,
      { providerId, cause: error },
    );
  }
}

/** A session's agent as a provider holds it: the link, and how to let go of its stream. */
export interface HeldAgent {
  link: AgentLink;
  /** Ends the stream under the link (the attach, the connect exec, the socket). */
  close(): void;
}

/**
 * The links of one provider instance to its sessions' agents: one per session, opened on first
 * use and kept until the session goes or the link closes. A link that failed to open is not kept,
 * so the next call tries again (or finds the session gone).
 */
export class AgentLinks<Agent extends HeldAgent> {
  private readonly agents = new Map<string, Promise<Agent>>();

  /** The session's agent: the one held, else what `open` makes (once, for concurrent callers). */
  get(sessionId: string, open: () => Promise<Agent>): Promise<Agent> {
    return this.agents.get(sessionId) ?? this.hold(sessionId, open());
  }

  /** Holds an agent being opened now (a session this instance is starting). */
  hold(sessionId: string, opening: Promise<Agent>): Promise<Agent> {
    this.agents.set(sessionId, opening);
    const drop = () => {
      if (this.agents.get(sessionId) === opening) this.agents.delete(sessionId);
    };
    opening.then((agent) => agent.link.closed.then(drop), drop);
    return opening;
  }

  /** Lets go of one session's agent (stopped, removed): commands still running on it fail. */
  async forget(sessionId: string): Promise<void> {
    const agent = this.agents.get(sessionId);
    this.agents.delete(sessionId);
    (await agent?.catch(() => undefined))?.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.agents.keys()].map((id) => this.forget(id)));
  }
}
