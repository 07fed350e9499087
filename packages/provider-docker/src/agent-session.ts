import {
  BackendError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { AgentLink } from "@cadre/agent-runtime-sandbox-agent";
import type { AttachedStdio, ContainerRef, DockerClient } from "./docker-client.js";

/** A session's agent, attached: the link, and what every command gets when the exec is silent. */
export interface SessionAgent {
  link: AgentLink;
  /** The container's environment (the image's and the policy's), as Docker's exec would give. */
  env: string[];
  /** The container's working directory. */
  cwd: string;
  stdio: AttachedStdio;
}

/** How long an attached agent may take to greet. */
const helloTimeoutMs = 15_000;

/**
 * The agents of the sessions this provider instance has attached to, one attach per session,
 * opened on first use (a session started by another process too) and closed with the session.
 */
export class SessionAgents {
  private readonly agents = new Map<string, Promise<SessionAgent>>();

  constructor(private readonly client: DockerClient) {}

  get(ref: ContainerRef): Promise<SessionAgent> {
    let agent = this.agents.get(ref.sessionId);
    if (!agent) {
      agent = this.attach(ref);
      this.agents.set(ref.sessionId, agent);
      // A failed attach is not kept: the next exec tries again, or finds the session gone.
      agent.then(
        (a) => a.link.closed.then(() => this.drop(ref.sessionId, agent)),
        () => this.drop(ref.sessionId, agent),
      );
    }
    return agent;
  }

  /** Ends the attach to one session (stopped, removed); its running execs fail. */
  async forget(sessionId: string): Promise<void> {
    const agent = this.agents.get(sessionId);
    this.agents.delete(sessionId);
    const attached = await agent?.catch(() => undefined);
    attached?.stdio.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.agents.keys()].map((id) => this.forget(id)));
  }

  private drop(sessionId: string, agent: Promise<SessionAgent> | undefined): void {
    if (this.agents.get(sessionId) === agent) this.agents.delete(sessionId);
  }

  private async attach(ref: ContainerRef): Promise<SessionAgent> {
    const facts = await this.client.inspectContainer(ref);
    const providerId = this.client.providerId;
    if (!facts) throw new SessionNotFoundError(ref.sessionId, { providerId });
    // A stopped container takes an attach but says nothing: its agent is gone.
    if (!facts.running) throw new SessionNotRunningError(ref.sessionId, "stopped", { providerId });
    const stdio = await this.client.attachStdio(ref);
    try {
      const link = await AgentLink.open(stdio.stdout, stdio.stdin, helloTimeoutMs);
      return { link, env: facts.env, cwd: facts.workingDir || "/", stdio };
    } catch (error) {
      stdio.close();
      throw new BackendError(
        `The agent of session ${ref.sessionId} did not answer (${(error as Error).message}); destroy the session and start another.`,
        { providerId, cause: error },
      );
    }
  }
}
