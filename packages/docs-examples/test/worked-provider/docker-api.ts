import { Writable } from "node:stream";
import {
  BackendError,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { isSessionOf, type SandboxExit } from "@cadre/agent-runtime-provider-utils";
import Docker from "dockerode";

/** A session's container as the backend reads it. */
export interface SessionContainer {
  id: string;
  labels: Record<string, string>;
  running: boolean;
  /** How it stopped, when it does not run: Docker keeps the exit of its PID 1 (the agent). */
  exit?: SandboxExit;
}

interface EngineError {
  statusCode?: number;
  code?: string;
  json?: { message?: string };
  message?: string;
}

/**
 * The one place that speaks to the Docker Engine: dockerode calls, and what their errors mean
 * for the contract. A container counts only when its labels make it this provider's session of
 * the id it is named after.
 */
export class DockerApi {
  readonly docker: Docker;

  constructor(
    readonly socketPath: string,
    private readonly providerId: string,
  ) {
    this.docker = new Docker({ socketPath });
  }

  /** The session's container, or undefined when there is none that is this provider's. */
  async session(id: string): Promise<SessionContainer | undefined> {
    const info = await this.docker
      .getContainer(id)
      .inspect()
      .catch((error: EngineError) => {
        if (error.statusCode === 404) return undefined;
        throw this.failure(error, `inspect session ${id}`);
      });
    // Docker also finds a container by an id prefix: only the one of exactly this name counts.
    if (!info || info.Name !== `/${id}` || !isSessionOf(info.Config.Labels, id, this.providerId)) {
      return undefined;
    }
    return {
      id: info.Id,
      labels: info.Config.Labels ?? {},
      running: info.State.Running,
      ...(info.State.Running
        ? {}
        : {
            exit: {
              exitCode: info.State.ExitCode,
              oomKilled: info.State.OOMKilled,
              ...(Date.parse(info.State.FinishedAt) > 0 ? { at: info.State.FinishedAt } : {}),
            },
          }),
    };
  }

  /** The session's container when it runs; SESSION_NOT_FOUND or SESSION_NOT_RUNNING otherwise. */
  async runningSession(id: string): Promise<SessionContainer> {
    const container = await this.session(id);
    if (!container) throw new SessionNotFoundError(id, { providerId: this.providerId });
    if (!container.running) {
      throw new SessionNotRunningError(id, "stopped", { providerId: this.providerId });
    }
    return container;
  }

  /** Writes each frame of an exec's output stream to `sink`; resolves when the stream ends. */
  demultiplex(
    stream: NodeJS.ReadableStream,
    sink: (name: "stdout" | "stderr", chunk: Buffer) => void,
  ): Promise<void> {
    const into = (name: "stdout" | "stderr") =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          sink(name, chunk);
          done();
        },
      });
    this.docker.modem.demuxStream(stream, into("stdout"), into("stderr"));
    return new Promise((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.on("error", resolve);
    });
  }

  /** An engine error as the contract's: unreachable daemon, or a failed call naming what it did. */
  failure(error: unknown, doing: string): Error {
    const e = error as EngineError;
    if (e.code === "ENOENT" || e.code === "ECONNREFUSED" || e.code === "EACCES") {
      return new ProviderUnavailableError(
        `The Docker daemon at ${this.socketPath} is not reachable (${e.code}).`,
        {
          providerId: this.providerId,
          checks: [
            {
              id: `${this.providerId}.daemon`,
              title: "Docker daemon",
              ok: false,
              required: true,
              detail: `${this.socketPath}: ${e.code}`,
              fix: "start the Docker daemon, or set socketPath to its socket",
            },
          ],
          cause: error,
        },
      );
    }
    const said = e.json?.message ?? e.message ?? String(error);
    return new BackendError(`Docker could not ${doing}: ${said}`, {
      providerId: this.providerId,
      cause: error,
    });
  }
}
