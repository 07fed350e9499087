import type { AgentLink } from "@cadre/agent-runtime-sandbox-agent";
import { type AgentConnection, type AgentRecord, connectAgent } from "./session-agent.js";

/** A link in use by `busy` execs; its relay keeps the process alive only while one runs. */
interface HeldLink extends AgentConnection {
  busy: number;
}

/**
 * This instance's links to session agents: one per session, opened to the agent's socket on
 * the first exec (whoever started the session: this instance, another one, a process that died)
 * and kept for the next, until the session ends here or the agent goes.
 */
export class AgentLinks {
  private readonly links = new Map<string, Promise<HeldLink>>();

  /**
   * Runs `use` with the session's link. Rejects as connectAgent does when there is none to
   * open (AgentGoneError: nothing listens there).
   */
  async with<T>(id: string, agent: AgentRecord, use: (link: AgentLink) => Promise<T>): Promise<T> {
    let pending = this.links.get(id);
    if (!pending) {
      pending = connectAgent(agent).then((connection) => {
        connection.hold(false);
        return { ...connection, busy: 0 };
      });
      this.links.set(id, pending);
      const drop = () => {
        if (this.links.get(id) === pending) this.links.delete(id);
      };
      // A failed connect is not kept: the next exec tries again, or finds the session gone.
      pending.then((held) => held.link.closed.then(drop), drop);
    }
    const held = await pending;
    if (held.busy++ === 0) held.hold(true);
    try {
      return await use(held.link);
    } finally {
      if (--held.busy === 0) held.hold(false);
    }
  }

  /** Closes this instance's link to the session; the agent kills what still runs over it. */
  async forget(id: string): Promise<void> {
    const pending = this.links.get(id);
    this.links.delete(id);
    const held = await pending?.catch(() => undefined);
    held?.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.links.keys()].map((id) => this.forget(id)));
  }
}
