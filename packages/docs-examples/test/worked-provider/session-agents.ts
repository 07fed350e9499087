import type { Duplex } from "node:stream";
import { PassThrough } from "node:stream";
import {
  AgentLinks,
  type CommandDefaults,
  openAgentLink,
} from "@cadre/agent-runtime-provider-utils";
import { type AgentLink, agentConnectArgv } from "@cadre/agent-runtime-sandbox-agent";
import type Docker from "dockerode";
import type { DockerApi } from "./docker-api.js";

/** A session's agent, linked: what its commands get when the exec is silent, and the link. */
export interface LinkedAgent extends CommandDefaults {
  link: AgentLink;
  close(): void;
}

/**
 * One link to the agent of each session this instance uses. A session it starts is reached over
 * the container's own stdin and stdout, attached before the start; any other through an exec of
 * `cadre-agent connect`, so that two processes never write to one stdin.
 */
export class SessionAgents {
  private readonly links = new AgentLinks<LinkedAgent>();

  constructor(
    private readonly api: DockerApi,
    private readonly providerId: string,
  ) {}

  /** Starts a new session's container with its stdio attached; resolves once its agent greets. */
  start(id: string, container: Docker.Container, defaults: CommandDefaults): Promise<LinkedAgent> {
    const opening = (async () => {
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as Duplex;
      await container.start().catch((error) => {
        stream.destroy();
        throw error;
      });
      return this.open(id, stream, defaults);
    })();
    return this.links.hold(id, opening);
  }

  /** The link to a running session's agent, joined through `cadre-agent connect` if need be. */
  get(id: string, container: Docker.Container): Promise<LinkedAgent> {
    return this.links.get(id, async () => {
      const info = await container.inspect();
      // As root with the container's capabilities: it becomes the agent's uid, which it admits.
      const exec = await container.exec({
        Cmd: [...agentConnectArgv],
        User: "0:0",
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = (await exec.start({ hijack: true, stdin: true })) as Duplex;
      return this.open(id, stream, {
        env: info.Config.Env ?? [],
        cwd: info.Config.WorkingDir || "/",
      });
    });
  }

  forget(id: string): Promise<void> {
    return this.links.forget(id);
  }

  closeAll(): Promise<void> {
    return this.links.closeAll();
  }

  /** The agent's link over an attach or exec stream (Docker multiplexes its stdout). */
  private async open(
    sessionId: string,
    stream: Duplex,
    defaults: CommandDefaults,
  ): Promise<LinkedAgent> {
    const stdout = new PassThrough();
    void this.api
      .demultiplex(stream, (name, chunk) => {
        if (name === "stdout") stdout.write(chunk);
      })
      .then(() => stdout.destroy());
    try {
      // A user the image lacks is POLICY_INVALID at `user`: the agent checks it at its start.
      const link = await openAgentLink(stdout, stream, { providerId: this.providerId, sessionId });
      return { link, ...defaults, close: () => stream.destroy() };
    } catch (error) {
      stream.destroy();
      throw error;
    }
  }
}
