import {
  BackendError,
  type CapabilityReport,
  type DoctorReport,
  doctorReport,
  type ExecRequest,
  type ExecResult,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import {
  type BackendSession,
  type CommandDefaults,
  cgroupOfProcess,
  execThroughAgent,
  isSessionOf,
  LimitWatch,
  type NewSession,
  type SessionBackend,
  withEnv,
} from "@cadre/agent-runtime-provider-utils";
import {
  agentArgs,
  agentBinaryFit,
  agentBinaryPath,
  agentCapabilities,
  agentMountPath,
} from "@cadre/agent-runtime-sandbox-agent";
import type Docker from "dockerode";
import { miniDockerCapabilities, miniDockerId, sessionDefaults } from "./capabilities.js";
import { DockerApi } from "./docker-api.js";
import type { MiniDockerOptions } from "./options.js";
import { SessionAgents } from "./session-agents.js";

/**
 * Sessions as Docker containers, hardened whatever the policy says: no capabilities for any
 * command, no new privileges, Docker's seccomp profile, no network but loopback, a pids limit, a
 * sized /tmp. cadre-agent is each container's PID 1 and runs every command.
 */
export class MiniDockerBackend implements SessionBackend {
  readonly providerId = miniDockerId;
  private readonly api: DockerApi;
  private readonly agents: SessionAgents;
  /** Sessions this instance stopped: an exec that the stop killed says so, whatever Docker reads. */
  private readonly haltedHere = new Set<string>();
  /** Each session's cgroup counters, read on the host: the pids limit refusing a command's fork. */
  private readonly limits = new Map<string, LimitWatch>();

  constructor(private readonly options: MiniDockerOptions) {
    this.api = new DockerApi(options.socketPath, this.providerId);
    this.agents = new SessionAgents(this.api, this.providerId);
  }

  async capabilities(): Promise<CapabilityReport> {
    return miniDockerCapabilities;
  }

  async create({ id, policy, labels }: NewSession): Promise<void> {
    const image = await this.requireImage(policy.image ?? this.options.image);
    const container = await this.api.docker
      .createContainer(sessionContainer(id, image, policy, labels))
      .catch((error) => {
        throw this.api.failure(error, "create a container");
      });
    // The commands' env and directory, as Docker makes the container's from image and policy.
    const defaults: CommandDefaults = {
      env: withEnv(image.env, policy.env),
      cwd: policy.workdir ?? (image.workingDir || "/"),
    };
    try {
      await this.agents.start(id, container, defaults);
      await this.watchLimits(id, container, LimitWatch.fresh);
    } catch (error) {
      // A user the image lacks comes back from the agent as POLICY_INVALID at `user`.
      await this.agents.forget(id);
      await container.remove({ force: true }).catch(() => {});
      throw error;
    }
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const session = await this.api.runningSession(id);
    const agent = await this.agents.get(id, this.api.docker.getContainer(session.id));
    return execThroughAgent(agent.link, agent, request, {
      providerId: this.providerId,
      // The agent went: the session stopped or was removed under the command, or it died.
      linkClosed: async (error) => {
        throw (
          (await this.sessionEnded(id, session.id)) ??
          new BackendError(`${error.message}; destroy the session and start another`, {
            providerId: this.providerId,
          })
        );
      },
      // A signal this provider did not send: the command's own, unless it stopped the session.
      exited: async (exitCode) => {
        if (exitCode > 128 && this.haltedHere.has(id)) {
          throw new SessionNotRunningError(id, "stopped", { providerId: this.providerId });
        }
        // A command that failed after the pids limit refused it a fork: the limit ended it.
        const watch = exitCode !== 0 ? await this.limitsOf(id, session.id) : undefined;
        const pids = await watch?.pidsRefused();
        return pids ? { exitCode, limitExceeded: "pids", ...pids } : { exitCode };
      },
    });
  }

  async stop(id: string): Promise<void> {
    const container = await this.api.session(id);
    if (!container?.running) return;
    this.haltedHere.add(id);
    await this.agents.forget(id);
    await this.api.docker
      .getContainer(container.id)
      .stop({ t: 2 })
      .catch((error: { statusCode?: number }) => {
        // 304: stopped already; 404: removed meanwhile. Either way there is no running session.
        if (error.statusCode !== 304 && error.statusCode !== 404) {
          throw this.api.failure(error, `stop session ${id}`);
        }
      });
  }

  async destroy(id: string): Promise<void> {
    await this.agents.forget(id);
    this.limits.delete(id);
    const container = await this.api.session(id);
    if (!container) return;
    this.haltedHere.add(id);
    await this.api.docker
      .getContainer(container.id)
      .remove({ force: true })
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw this.api.failure(error, `remove session ${id}`);
      });
    this.haltedHere.delete(id);
  }

  /** A session another process started: what its counters hold already happened before. */
  private async limitsOf(id: string, containerId: string): Promise<LimitWatch | undefined> {
    const known = this.limits.get(id);
    if (known) return known;
    await this.watchLimits(id, this.api.docker.getContainer(containerId), LimitWatch.adopt);
    return this.limits.get(id);
  }

  /** Finds the container's cgroup from its PID 1 as the host sees it (a local daemon only). */
  private async watchLimits(
    id: string,
    container: Docker.Container,
    watch: (cgroupPath: string) => LimitWatch | Promise<LimitWatch>,
  ): Promise<void> {
    const pid = (await container.inspect().catch(() => undefined))?.State.Pid;
    const path = pid ? await cgroupOfProcess(pid) : undefined;
    if (path !== undefined) this.limits.set(id, await watch(path));
  }

  async find(id: string): Promise<BackendSession | undefined> {
    const container = await this.api.session(id);
    return (
      container && {
        labels: container.labels,
        state: container.running ? "running" : "stopped",
        ...(container.exit ? { exit: container.exit } : {}),
      }
    );
  }

  async list(): Promise<BackendSession[]> {
    const containers = await this.api.docker
      .listContainers({
        all: true,
        filters: { label: [`${sessionLabels.provider}=${this.providerId}`] },
      })
      .catch((error) => {
        throw this.api.failure(error, "list containers");
      });
    return containers
      .filter((c) => {
        const id = c.Labels[sessionLabels.sessionId] ?? "";
        return c.Names.includes(`/${id}`) && isSessionOf(c.Labels, id, this.providerId);
      })
      .map((c) => ({ labels: c.Labels, state: c.State === "running" ? "running" : "stopped" }));
  }

  async close(): Promise<void> {
    await this.agents.closeAll();
  }

  async doctor(): Promise<DoctorReport> {
    const version = await this.api.docker.version().catch((error: Error) => error);
    const daemon = !(version instanceof Error);
    const image = daemon && (await this.hasImage(this.options.image));
    const agent = agentBinaryPath();
    const fit = agent ? agentBinaryFit(agent) : undefined;
    return doctorReport(this.providerId, [
      {
        id: `${this.providerId}.daemon`,
        title: "Docker daemon",
        ok: daemon,
        required: true,
        detail: daemon
          ? `Docker ${version.Version} at ${this.options.socketPath}`
          : version.message,
        fix: "start the Docker daemon, or set socketPath to its socket",
      },
      {
        id: `${this.providerId}.image`,
        title: "default image",
        ok: image,
        required: true,
        detail: this.options.image,
        fix: `docker pull ${this.options.image}, or set image to one the daemon has`,
      },
      {
        id: `${this.providerId}.agent`,
        title: "cadre-agent binary for this host",
        ok: fit?.fits === true,
        required: true,
        detail: fit?.detail ?? `none for ${process.arch}`,
        fix: "build @cadre/agent-runtime-sandbox-agent (Debian's musl-tools)",
      },
    ]);
  }

  /**
   * What an image gives its containers unless told otherwise. One the daemon does not have fails
   * the start as the host's problem: nothing is pulled.
   */
  private async requireImage(name: string): Promise<ImageDefaults> {
    const image = await this.inspectImage(name);
    if (image) return image;
    throw new ProviderUnavailableError(`The Docker daemon has no image ${name}.`, {
      providerId: this.providerId,
      checks: [
        {
          id: `${this.providerId}.image`,
          title: "session image",
          ok: false,
          required: true,
          detail: `${name} is not on this host`,
          fix: `docker pull ${name} (this provider never pulls)`,
        },
      ],
    });
  }

  private async hasImage(name: string): Promise<boolean> {
    return (await this.inspectImage(name)) !== undefined;
  }

  private async inspectImage(name: string): Promise<ImageDefaults | undefined> {
    const info = await this.api.docker
      .getImage(name)
      .inspect()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode === 404) return undefined;
        throw this.api.failure(error, `inspect image ${name}`);
      });
    if (!info) return undefined;
    const config = info.Config;
    return {
      name,
      user: config?.User ?? "",
      env: config?.Env ?? [],
      workingDir: config?.WorkingDir ?? "",
    };
  }

  /** The error of a session that no longer runs, or undefined while it runs. */
  private async sessionEnded(id: string, containerId: string) {
    const container = await this.api.session(id);
    if (!container || container.id !== containerId) {
      return new SessionNotFoundError(id, { providerId: this.providerId });
    }
    if (!container.running || this.haltedHere.has(id)) {
      return new SessionNotRunningError(id, "stopped", { providerId: this.providerId });
    }
    return undefined;
  }
}

/** What an image gives its containers unless told otherwise. */
interface ImageDefaults {
  name: string;
  user: string;
  env: string[];
  workingDir: string;
}

/**
 * The container of one session: cadre-agent, bind-mounted read-only from this host, is its PID 1.
 * It starts as root with the agent's capabilities only, becomes a uid of its own, and runs every
 * command as the session's user (the policy's, else the image's) with no capability at all. Its
 * stdin stays open: the host speaks to the agent over the container's stdio.
 */
function sessionContainer(
  id: string,
  image: ImageDefaults,
  policy: ValidatedPolicy,
  labels: Record<string, string>,
): Docker.ContainerCreateOptions {
  const tmp = `rw,nosuid,nodev,mode=1777,size=${sessionDefaults.tmpBytes}`;
  return {
    name: id,
    Hostname: id.slice(0, 63),
    Image: image.name,
    Entrypoint: [agentMountPath],
    Cmd: agentArgs(policy.user ?? image.user),
    User: "0:0",
    Labels: labels,
    Env: Object.entries(policy.env ?? {}).map(([name, value]) => `${name}=${value}`),
    ...(policy.workdir !== undefined ? { WorkingDir: policy.workdir } : {}),
    OpenStdin: true,
    StdinOnce: false,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      Init: false,
      Binds: [`${agentBinaryPath()}:${agentMountPath}:ro`],
      CapDrop: ["ALL"],
      CapAdd: [...agentCapabilities],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      IpcMode: "private",
      ReadonlyRootfs: policy.readOnlyRootfs === true,
      Tmpfs: { "/tmp": tmp },
      PidsLimit: policy.pids ?? sessionDefaults.pids,
      Ulimits: [
        { Name: "nofile", Soft: sessionDefaults.openFiles, Hard: sessionDefaults.openFiles },
      ],
      LogConfig: { Type: "none", Config: {} },
      RestartPolicy: { Name: "no" },
    },
  };
}
