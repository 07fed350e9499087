import {
  type CapabilityReport,
  type DoctorReport,
  doctorReport,
  type ExecRequest,
  type ExecResult,
  PolicyValidationError,
  ProviderUnavailableError,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import {
  type BackendSession,
  isSessionOf,
  type NewSession,
  type SessionBackend,
} from "@cadre/agent-runtime-provider-utils";
import type Docker from "dockerode";
import { miniDockerCapabilities, miniDockerId, sessionDefaults } from "./capabilities.js";
import { DockerApi } from "./docker-api.js";
import { runExec } from "./docker-exec.js";
import type { MiniDockerOptions } from "./options.js";

/**
 * Sessions as Docker containers, hardened whatever the policy says: no capabilities, no new
 * privileges, Docker's seccomp profile, no network but loopback, a pids limit, a sized /tmp.
 * Commands run as execs under Docker's init, which reaps what they leave behind.
 */
export class MiniDockerBackend implements SessionBackend {
  readonly providerId = miniDockerId;
  private readonly api: DockerApi;
  /** Sessions this instance stopped: an exec that the stop killed says so, whatever Docker reads. */
  private readonly haltedHere = new Set<string>();

  constructor(private readonly options: MiniDockerOptions) {
    this.api = new DockerApi(options.socketPath, this.providerId);
  }

  async capabilities(): Promise<CapabilityReport> {
    return miniDockerCapabilities;
  }

  async create({ id, policy, labels }: NewSession): Promise<void> {
    const image = policy.image ?? this.options.image;
    await this.requireImage(image);
    const container = await this.api.docker
      .createContainer(sessionContainer(id, image, policy, labels))
      .catch((error) => {
        throw this.api.failure(error, "create a container");
      });
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => {});
      const said = (error as { json?: { message?: string } }).json?.message ?? "";
      if (policy.user !== undefined && /unable to find (user|group)/.test(said)) {
        throw new PolicyValidationError(
          [
            {
              path: "user",
              message: `${policy.user} is not in the image's /etc/passwd or /etc/group: use a user the image has, or a numeric uid:gid`,
            },
          ],
          { providerId: this.providerId },
        );
      }
      throw this.api.failure(error, "start a container");
    }
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const container = await this.api.runningSession(id);
    return runExec(
      {
        api: this.api,
        id,
        containerId: container.id,
        providerId: this.providerId,
        haltedHere: () => this.haltedHere.has(id),
      },
      request,
    );
  }

  async stop(id: string): Promise<void> {
    const container = await this.api.session(id);
    if (!container?.running) return;
    this.haltedHere.add(id);
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

  async find(id: string): Promise<BackendSession | undefined> {
    const container = await this.api.session(id);
    return (
      container && { labels: container.labels, state: container.running ? "running" : "stopped" }
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

  async doctor(): Promise<DoctorReport> {
    const version = await this.api.docker.version().catch((error: Error) => error);
    const daemon = !(version instanceof Error);
    const image = daemon && (await this.hasImage(this.options.image));
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
    ]);
  }

  /** An image the daemon does not have fails the start as the host's problem: nothing is pulled. */
  private async requireImage(image: string): Promise<void> {
    if (await this.hasImage(image)) return;
    throw new ProviderUnavailableError(`The Docker daemon has no image ${image}.`, {
      providerId: this.providerId,
      checks: [
        {
          id: `${this.providerId}.image`,
          title: "session image",
          ok: false,
          required: true,
          detail: `${image} is not on this host`,
          fix: `docker pull ${image} (this provider never pulls)`,
        },
      ],
    });
  }

  private async hasImage(image: string): Promise<boolean> {
    return this.api.docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        (error: { statusCode?: number }) => {
          if (error.statusCode === 404) return false;
          throw this.api.failure(error, `inspect image ${image}`);
        },
      );
  }
}

/** The container of one session. Its main process only keeps it alive; commands run as execs. */
function sessionContainer(
  id: string,
  image: string,
  policy: ValidatedPolicy,
  labels: Record<string, string>,
): Docker.ContainerCreateOptions {
  const tmp = `rw,nosuid,nodev,mode=1777,size=${sessionDefaults.tmpBytes}`;
  return {
    name: id,
    Hostname: id.slice(0, 63),
    Image: image,
    Entrypoint: ["sleep"],
    Cmd: ["infinity"],
    Labels: labels,
    Env: Object.entries(policy.env ?? {}).map(([name, value]) => `${name}=${value}`),
    ...(policy.user !== undefined ? { User: policy.user } : {}),
    ...(policy.workdir !== undefined ? { WorkingDir: policy.workdir } : {}),
    HostConfig: {
      Init: true,
      CapDrop: ["ALL"],
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
