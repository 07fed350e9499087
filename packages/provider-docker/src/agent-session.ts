import { SessionNotFoundError, SessionNotRunningError } from "@cadre/agent-runtime-contract";
import {
  AgentLinks,
  type CommandDefaults,
  openAgentLink,
} from "@cadre/agent-runtime-provider-utils";
import { type AgentLink, agentConnectArgv } from "@cadre/agent-runtime-sandbox-agent";
import type { AttachedStdio, ContainerRef, DockerClient } from "./docker-client.js";

/** A session's agent, attached: the link, and what every command gets when the exec is silent. */
export interface SessionAgent extends CommandDefaults {
  link: AgentLink;
  close(): void;
}

/**
 * The agents of the sessions this provider instance uses. A session this instance starts is
 * reached over the container's own stdio, attached before it starts; any other (another
 * process's, or one that outlived its owner) through an exec of `cadre-agent connect`, so that two
 * hosts never write to the same stdin.
 */
export class SessionAgents {
  private readonly links = new AgentLinks<SessionAgent>();

  /** `agentPath`: the agent's binary in the session's containers (container-agent.ts). */
  constructor(
    private readonly client: DockerClient,
    private readonly agentPath: string,
  ) {}

  /**
   * Starts a container this instance has just created with its stdio attached first, so that
   * nothing the agent says is missed, and resolves once its agent has greeted. `defaults` are the
   * container's env and directory (from the image and the policy, as Docker makes them).
   */
  start(
    ref: ContainerRef,
    defaults: CommandDefaults,
    start: () => Promise<void>,
  ): Promise<SessionAgent> {
    const opening = (async () => {
      const stdio = await this.client.attachStdio(ref);
      try {
        await start();
      } catch (error) {
        stdio.close();
        throw error;
      }
      return this.open(ref, stdio, defaults);
    })();
    return this.links.hold(ref.sessionId, opening);
  }

  get(ref: ContainerRef): Promise<SessionAgent> {
    return this.links.get(ref.sessionId, () => this.connect(ref));
  }

  forget(sessionId: string): Promise<void> {
    return this.links.forget(sessionId);
  }

  closeAll(): Promise<void> {
    return this.links.closeAll();
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
    const [, ...connectArgs] = agentConnectArgv;
    const stdio = await this.client.execStdio(ref, [this.agentPath, ...connectArgs], "0:0");
    return this.open(ref, stdio, { env: facts.env, cwd: facts.workingDir || "/" });
  }

  private async open(
    ref: ContainerRef,
    stdio: AttachedStdio,
    defaults: CommandDefaults,
  ): Promise<SessionAgent> {
    try {
      const link = await openAgentLink(stdio.stdout, stdio.stdin, {
        providerId: this.client.providerId,
        sessionId: ref.sessionId,
      });
      return { link, ...defaults, close: stdio.close };
    } catch (error) {
      stdio.close();
      throw error;
    }
  }
}
