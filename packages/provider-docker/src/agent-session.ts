import {
  BackendError,
  PolicyValidationError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { AgentLink, AgentRefusedError, agentConnectArgv } from "@cadre/agent-runtime-sandbox-agent";
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

/** What a command gets when its exec is silent: the session container's env and directory. */
export interface CommandDefaults {
  env: string[];
  cwd: string;
}

/** How long an attached agent may take to greet. */
const helloTimeoutMs = 15_000;

/**
 * The agents of the sessions this provider instance has attached to, one link per session,
 * opened on first use and closed with the session. A session this instance starts is reached
 * over the container's own stdio, attached before it starts; any other (another process's, or
 * one that outlived its owner) through an exec of `cadre-agent connect`, so that two hosts never
 * write to the same stdin.
 */
export class SessionAgents {
  private readonly agents = new Map<string, Promise<SessionAgent>>();

  constructor(private readonly client: DockerClient) {}

  /**
   * Starts a container this instance has just created with its stdio attached first, so that
   * nothing the agent says is missed, and resolves once its agent has greeted.
   */
  start(
    ref: ContainerRef,
    defaults: CommandDefaults,
    start: () => Promise<void>,
  ): Promise<SessionAgent> {
    const agent = (async () => {
      const stdio = await this.client.attachStdio(ref);
      try {
        await start();
      } catch (error) {
        stdio.close();
        throw error;
      }
      return this.open(ref, stdio, defaults);
    })();
    this.keep(ref.sessionId, agent);
    return agent;
  }

  get(ref: ContainerRef): Promise<SessionAgent> {
    const known = this.agents.get(ref.sessionId);
    if (known) return known;
    const agent = this.connect(ref);
    this.keep(ref.sessionId, agent);
    return agent;
  }

  /** Ends the link to one session (stopped, removed); its running execs fail. */
  async forget(sessionId: string): Promise<void> {
    const agent = this.agents.get(sessionId);
    this.agents.delete(sessionId);
    const attached = await agent?.catch(() => undefined);
    attached?.stdio.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.agents.keys()].map((id) => this.forget(id)));
  }

  private keep(sessionId: string, agent: Promise<SessionAgent>): void {
    this.agents.set(sessionId, agent);
    // A failed attach is not kept: the next exec tries again, or finds the session gone.
    const drop = () => {
      if (this.agents.get(sessionId) === agent) this.agents.delete(sessionId);
    };
    agent.then((a) => a.link.closed.then(drop), drop);
  }

  /** Joins the running agent of a session another instance started. */
  private async connect(ref: ContainerRef): Promise<SessionAgent> {
    const facts = await this.client.inspectContainer(ref);
    const providerId = this.client.providerId;
    if (!facts) throw new SessionNotFoundError(ref.sessionId, { providerId });
    // A stopped container takes no exec: its agent is gone.
    if (!facts.running) throw new SessionNotRunningError(ref.sessionId, "stopped", { providerId });
    // As root with the container's capabilities: it makes its stdio its own and becomes the
    // agent's uid, the only one the agent admits.
    const stdio = await this.client.execStdio(ref, [...agentConnectArgv], "0:0");
    return this.open(ref, stdio, { env: facts.env, cwd: facts.workingDir || "/" });
  }

  private async open(
    ref: ContainerRef,
    stdio: AttachedStdio,
    defaults: CommandDefaults,
  ): Promise<SessionAgent> {
    const providerId = this.client.providerId;
    try {
      const link = await AgentLink.open(stdio.stdout, stdio.stdin, helloTimeoutMs);
      return { link, ...defaults, stdio };
    } catch (error) {
      stdio.close();
      if (error instanceof AgentRefusedError && error.reason === "user") {
        throw new PolicyValidationError([{ path: "user", message: error.detail }], {
          providerId,
          cause: error,
        });
      }
      throw new BackendError(
        `The agent of session ${ref.sessionId} did not answer (${(error as Error).message}); destroy the session and start another.`,
        { providerId, cause: error },
      );
    }
  }
}
