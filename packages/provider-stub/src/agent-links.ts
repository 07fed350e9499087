import { AgentLinks as Links } from "@cadre/agent-runtime-provider-utils";
import type { AgentLink } from "@cadre/agent-runtime-sandbox-agent";
import { type AgentConnection, type AgentRecord, connectAgent } from "./session-agent.js";

/** A link in use by `busy` execs; its relay keeps the process alive only while one runs. */
interface HeldLink extends AgentConnection {
  busy: number;
}

/**
 * This instance's links to session agents (provider-utils' AgentLinks): one per session, opened
 * to the agent's socket on the first exec (whoever started the session: this instance, another
 * one, a process that died) and kept for the next, until the session ends here or the agent goes.
 * The relay under a link keeps this process alive only while an exec waits on it.
 */
export class AgentLinks {
  private readonly links = new Links<HeldLink>();

  /**
   * Runs `use` with the session's link. Rejects as connectAgent does when there is none to
   * open (AgentGoneError: nothing listens there).
   */
  async with<T>(id: string, agent: AgentRecord, use: (link: AgentLink) => Promise<T>): Promise<T> {
    const held = await this.links.get(id, async () => {
      const connection = await connectAgent(agent);
      connection.hold(false);
      return { ...connection, busy: 0 };
    });
    if (held.busy++ === 0) held.hold(true);
    try {
      return await use(held.link);
    } finally {
      if (--held.busy === 0) held.hold(false);
    }
  }

  /** Holds the link this instance has to a session it started (the agent's own stdio). */
  adopt(id: string, connection: AgentConnection): void {
    void this.links.hold(id, Promise.resolve({ ...connection, busy: 0 }));
  }

  /** Closes this instance's link to the session; the agent kills what still runs over it. */
  forget(id: string): Promise<void> {
    return this.links.forget(id);
  }

  closeAll(): Promise<void> {
    return this.links.closeAll();
  }
}
