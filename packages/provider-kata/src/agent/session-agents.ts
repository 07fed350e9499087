import {
  AgentLinks,
  type CommandDefaults,
  openAgentLink,
} from "@cadre/agent-runtime-provider-utils";
import type { AgentLink } from "@cadre/agent-runtime-sandbox-agent";
import { providerId } from "../capabilities.js";
import type { ContainerdClient } from "../containerd/client.js";
import type { Stdio } from "../containerd/messages.js";
import { newExecId } from "../exec/exec-id.js";
import { type FifoLink, openFifoLink } from "../io/fifo-link.js";
import type { FifoReserve } from "../io/fifo-reserve.js";
import { processTypeUrl } from "../spec/oci-types.js";
import { agentConnectProcess } from "../spec/session-spec.js";

const SIGKILL = 9;
/** How long the end of a connect exec waits for it to exit after its kill, before deleting it. */
const connectExitWaitMs = 5_000;

/** A session's agent, reached: the link, and what every command gets when its exec is silent. */
export interface SessionAgent {
  link: AgentLink;
  defaults: CommandDefaults;
  /** Lets go of the stream under the link (and ends a connect exec). */
  close(): void;
}

/**
 * The agents of the sessions this provider instance reaches, one link per session (provider-
 * utils' AgentLinks). A session this instance starts is reached over its task's own stdio FIFOs,
 * whose host ends are open before the task exists; any other (another process's, or one that
 * outlived its owner) through a containerd exec of `cadre-agent connect`, since the shim closes
 * the task's stdin for good once the first host's writer goes away, and two hosts never write
 * into one stream.
 */
export class SessionAgents {
  private readonly links = new AgentLinks<SessionAgent>();
  /** Sessions whose link is their task's own stdio. */
  private readonly ownStdio = new Set<string>();

  constructor(private readonly client: ContainerdClient) {}

  /**
   * Creates and starts a session's task with `createTask`, giving it stdio FIFOs whose host ends
   * are open first, and resolves once its agent has greeted. An agent that refuses the session's
   * user is POLICY_INVALID at `user`.
   */
  start(
    sessionId: string,
    defaults: CommandDefaults,
    fifos: FifoReserve,
    createTask: (stdio: Stdio) => Promise<void>,
  ): Promise<SessionAgent> {
    const opening = (async (): Promise<SessionAgent> => {
      const fifo = await openFifoLink(fifos);
      try {
        await createTask(fifo.stdio);
      } catch (error) {
        fifo.close();
        throw error;
      } finally {
        fifo.unlink();
      }
      const link = await this.greet(sessionId, fifo);
      this.ownStdio.add(sessionId);
      return {
        link,
        defaults,
        close: () => {
          link.close();
          fifo.close();
        },
      };
    })();
    return this.links.hold(sessionId, opening);
  }

  /**
   * The session's agent, joined over a connect exec when this instance holds no link to it;
   * `check` runs first (the session must still run: a stopped task takes no exec).
   */
  get(
    sessionId: string,
    defaults: CommandDefaults,
    fifos: FifoReserve,
    check: () => Promise<void>,
  ): Promise<SessionAgent> {
    return this.links.get(sessionId, async () => {
      await check();
      return this.connect(sessionId, defaults, fifos);
    });
  }

  /** Ends the link to one session (stopped, removed); commands still running on it fail. */
  forget(sessionId: string): Promise<void> {
    this.ownStdio.delete(sessionId);
    return this.links.forget(sessionId);
  }

  /**
   * Ends every link, for a provider that closes. The task's own stdin is closed too (CloseIO), so
   * the agent sees its first host go and kills what that host still ran; the session lives on.
   */
  async closeAll(): Promise<void> {
    const own = [...this.ownStdio];
    this.ownStdio.clear();
    await this.links.closeAll();
    await Promise.all(own.map((id) => this.client.closeStdin(id, "").catch(() => {})));
  }

  /** Joins a running agent through `cadre-agent connect`, run as a containerd exec. */
  private async connect(
    sessionId: string,
    defaults: CommandDefaults,
    fifos: FifoReserve,
  ): Promise<SessionAgent> {
    const { client } = this;
    const fifo = await openFifoLink(fifos);
    const execId = newExecId();
    let created = false;
    let ended: Promise<void> | undefined;
    const end = () => {
      ended ??= (async () => {
        fifo.close();
        if (!created) return;
        await client.kill(sessionId, SIGKILL, { execId }).catch(() => {});
        await client.wait(sessionId, execId, connectExitWaitMs).catch(() => {});
        await client.deleteProcess(sessionId, execId).catch(() => {});
      })();
      return ended;
    };
    try {
      await client.exec(sessionId, execId, fifo.stdio, {
        type_url: processTypeUrl,
        value: Buffer.from(JSON.stringify(agentConnectProcess())),
      });
      created = true;
      await client.startProcess(sessionId, execId);
    } catch (error) {
      await end();
      throw error;
    } finally {
      fifo.unlink();
    }
    let link: AgentLink;
    try {
      link = await this.greet(sessionId, fifo);
    } catch (error) {
      await end();
      throw error;
    }
    // However the link ends (let go, the agent gone, a fault), the exec goes with it.
    link.closed.then(end);
    return {
      link,
      defaults,
      close: () => {
        link.close();
        void end();
      },
    };
  }

  private async greet(sessionId: string, fifo: FifoLink): Promise<AgentLink> {
    try {
      const link = await openAgentLink(fifo.output, fifo.input, { providerId, sessionId });
      // The stream ends with the link, whoever ends it.
      link.closed.then(fifo.close);
      return link;
    } catch (error) {
      fifo.close();
      throw error;
    }
  }
}
