import { type Duplex, PassThrough, type Readable, type Writable } from "node:stream";
import {
  type AgentRuntimeError,
  type DoctorCheck,
  PolicyValidationError,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import {
  type CgroupReading,
  type LimitSeen,
  LimitWatch,
  limitSeen,
  readCgroup,
  usageOfCgroup,
} from "@cadre/agent-runtime-provider-utils";
import Docker from "dockerode";
import { containerCgroupPath } from "./cgroup-path.js";
import {
  type ConnectionKind,
  connectionKind,
  type DockerConnection,
  describeConnection,
} from "./connection.js";
import {
  containerGone,
  createError,
  daemonCallError,
  daemonMessage,
  type ErrorContext,
  sessionCallError,
  statusOf,
} from "./docker-errors.js";
import { dockerodeOptions } from "./dockerode-options.js";
import { connectionCheckId } from "./doctor-checks.js";
import { type HostFacts, hostFactsFromInfo } from "./host-facts.js";
import { DockerStreamSplitter } from "./stream-splitter.js";

/** What a container uses, as SessionStats' numbers. */
export type ContainerUsage = Partial<
  Record<
    | "cpuSeconds"
    | "memoryBytes"
    | "peakMemoryBytes"
    | "memoryLimitBytes"
    | "pids"
    | "pidsLimit"
    | "diskBytes",
    number
  >
>;

/** The fields of the Engine API's container stats that usage reads. */
interface EngineStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; max_usage?: number; limit?: number };
  pids_stats?: { current?: number; limit?: number };
}

function usageOfEngineStats(stats: EngineStats): ContainerUsage {
  const usage: ContainerUsage = {};
  const put = (key: keyof ContainerUsage, value: number | undefined) => {
    if (typeof value === "number" && Number.isFinite(value)) usage[key] = value;
  };
  const cpu = stats.cpu_stats?.cpu_usage?.total_usage;
  put("cpuSeconds", cpu === undefined ? undefined : cpu / 1e9);
  put("memoryBytes", stats.memory_stats?.usage);
  put("peakMemoryBytes", stats.memory_stats?.max_usage);
  put("memoryLimitBytes", stats.memory_stats?.limit);
  put("pids", stats.pids_stats?.current);
  put("pidsLimit", stats.pids_stats?.limit);
  return usage;
}

/** How long a removal waits for another caller's removal of the same container to finish. */
const removalWaitMs = 30_000;
/** The create request of a container (the Engine API's ContainerCreate body). */
export type ContainerSpec = Docker.ContainerCreateOptions;

/** The create request of a network (the Engine API's NetworkCreate body). */
export type NetworkSpec = Docker.NetworkCreateOptions;

/** The container a call is about, and the session its errors name. */
export interface ContainerRef {
  /** The container's full id; its name only while the session is being looked up. */
  id: string;
  sessionId: string;
}

/** What the provider reads of one container (`GET /containers/{id}/json`). */
export interface ContainerFacts {
  id: string;
  /** Docker's name, with its leading "/". */
  name: string;
  labels: Record<string, string>;
  /** Docker's State.Status: "running", "exited", "dead", ... */
  status: string;
  running: boolean;
  /** The kernel killed the container's main process (under gVisor, the sandbox) at its memory limit. */
  oomKilled: boolean;
  /** Config.Env: the image's environment with the policy's. */
  env: string[];
  /** Config.WorkingDir, "" for the image's default. */
  workingDir: string;
  /** State.ExitCode: the main process's, once it ended. */
  exitCode: number;
  /** State.FinishedAt, ISO 8601, once it ended. */
  finishedAt?: string;
}

/** One container of a listing (`GET /containers/json`). */
export interface ContainerSummary {
  id: string;
  names: string[];
  labels: Record<string, string>;
  state: string;
}

export interface NetworkFacts {
  id: string;
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipv6: boolean;
}

/** Receives an exec's output: the exact bytes, in the order Docker sent them. */
export type OutputSink = (stream: "stdout" | "stderr", chunk: Buffer) => void;

/** What an image gives its containers unless told otherwise. */
export interface ImageDefaults {
  user: string;
  env: string[];
  workingDir: string;
}

/** A container's own stdin and stdout, attached. */
export interface AttachedStdio {
  stdout: Readable;
  stdin: Writable;
  close(): void;
}

/**
 * The provider's one client of the Docker daemon, and the only module of the provider that calls
 * dockerode (bench-baseline.ts, which only `cadre-runtime bench` loads, measures dockerode bare). It
 * holds the connection, reads the daemon's facts once, and turns every failure into one of the
 * contract's errors (docker-errors.ts): no dockerode error goes past it, and what it answers is
 * in its own small types. Calls about a session's container take a ContainerRef: the call goes to
 * its id, its errors name the session.
 */
export class DockerClient {
  /** The daemon's address, for messages. */
  readonly address: string;
  /** Whether the daemon is on this machine (its Unix socket), so that it can mount this host's files. */
  readonly local: boolean;
  /** How the connection is secured: a Unix socket, TLS, SSH, or plain TCP. */
  readonly kind: ConnectionKind;
  /** Why no call is made at all (plain TCP without `insecure`, an unreadable key), or undefined. */
  readonly refused: DoctorCheck | undefined;
  private readonly dockerode: Docker | undefined;
  private readonly errors: ErrorContext;
  private factsPromise: Promise<HostFacts> | undefined;
  /** The OOM kill count read last, per session. */
  private readonly limitWatches = new Map<string, LimitWatch>();

  constructor(
    connection: DockerConnection,
    readonly providerId = "docker",
  ) {
    this.address = describeConnection(connection);
    this.kind = connectionKind(connection);
    this.local = this.kind === "socket";
    this.errors = { providerId, address: this.address, kind: this.kind };
    const made = dockerodeOptions(connection);
    let refused = "refused" in made ? made.refused : undefined;
    let dockerode: Docker | undefined;
    try {
      dockerode = new Docker("options" in made ? made.options : { socketPath: "/nonexistent" });
    } catch (error) {
      // docker-modem reads DOCKER_CERT_PATH's files itself for a tcp:// DOCKER_HOST, and throws
      // when one is missing, whatever the options say.
      refused ??= {
        id: connectionCheckId,
        title: "connection to the daemon is authenticated and encrypted",
        ok: false,
        required: true,
        detail: `dockerode cannot start: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} reading the files DOCKER_CERT_PATH names`,
        fix: "point DOCKER_CERT_PATH at a directory with ca.pem, cert.pem and key.pem, or unset it",
      };
    }
    this.refused = refused;
    this.dockerode = dockerode;
  }

  /** dockerode, unless the connection is refused: then every call is PROVIDER_UNAVAILABLE. */
  private get docker(): Docker {
    if (this.refused || !this.dockerode) {
      throw new ProviderUnavailableError(
        `The provider refuses the connection to ${this.address}: ${this.refused?.detail}.`,
        { providerId: this.providerId, checks: this.refused ? [this.refused] : [] },
      );
    }
    return this.dockerode;
  }

  // The daemon

  /** The daemon's facts, read once per client (again after a failure). */
  hostFacts(): Promise<HostFacts> {
    if (!this.factsPromise) {
      this.factsPromise = Promise.resolve()
        .then(() => Promise.all([this.docker.info(), this.docker.version()]))
        .then(async ([info, version]) => {
          const facts = hostFactsFromInfo(
            info as Record<string, unknown>,
            version as unknown as Record<string, unknown>,
          );
          // Podman's Docker API leaves "name=rootless" out of SecurityOptions (4.3.1); its own
          // API says it.
          if (facts.engine === "podman") facts.rootless = await this.podmanRootless();
          return facts;
        })
        .catch((error: unknown) => {
          this.factsPromise = undefined;
          throw this.daemonError(error, "read the daemon's info");
        });
    }
    return this.factsPromise;
  }

  /** Whether a Podman engine runs rootless: `host.security.rootless` of its own info (libpod API). */
  private podmanRootless(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        { path: "/v4.0.0/libpod/info?", method: "GET", statusCodes: { 200: true }, options: {} },
        (error: unknown, info: unknown) => {
          if (error) reject(error);
          else {
            const host = (info as { host?: { security?: { rootless?: unknown } } })?.host;
            resolve(host?.security?.rootless === true);
          }
        },
      );
    });
  }

  /** Resolves when the daemon answers `/_ping`; rejects when it does not, or `signal` aborts. */
  async ping(signal: AbortSignal): Promise<void> {
    // dockerode's ping takes an abortSignal; its type declarations leave the options out.
    const ping = this.docker.ping.bind(this.docker) as (options: {
      abortSignal: AbortSignal;
    }) => Promise<unknown>;
    await ping({ abortSignal: signal }).catch(this.daemonFailure("answer a ping"));
  }

  /** Whether the image is in the daemon's store; `detail` says why the daemon could not tell. */
  async imageStatus(image: string): Promise<{ present: boolean; detail?: string }> {
    try {
      await this.docker.getImage(image).inspect();
      return { present: true };
    } catch (error) {
      return statusOf(error) === 404
        ? { present: false }
        : { present: false, detail: daemonMessage(error) };
    }
  }

  /**
   * What an image gives its containers unless told otherwise: user ("" for none), env and working
   * directory. Empty defaults when the daemon does not know the image (creating its container
   * then says so).
   */
  async imageDefaults(image: string): Promise<ImageDefaults> {
    try {
      const config = (await this.docker.getImage(image).inspect()).Config;
      return {
        user: config?.User ?? "",
        env: config?.Env ?? [],
        workingDir: config?.WorkingDir ?? "",
      };
    } catch (error) {
      if (statusOf(error) === 404) return { user: "", env: [], workingDir: "" };
      throw this.daemonError(error, `inspect image ${image}`);
    }
  }

  // Containers

  /** Creates a container and answers its full id. A missing image is PROVIDER_UNAVAILABLE. */
  async createContainer(spec: ContainerSpec): Promise<string> {
    try {
      return (await this.docker.createContainer(spec)).id;
    } catch (error) {
      throw createError(error, spec.Image ?? "", this.errors);
    }
  }

  async startContainer(ref: ContainerRef): Promise<void> {
    await this.container(ref)
      .start()
      .catch((error: unknown) => {
        // The runtime resolves `user` in the image's passwd and group files only at start.
        const missing = /unable to find (user|group) ([^\s:]+)/i.exec(daemonMessage(error));
        if (missing) {
          const [, kind, name] = missing;
          const file = kind === "user" ? "/etc/passwd" : "/etc/group";
          throw new PolicyValidationError(
            [{ path: "user", message: `${name} is not in the image's ${file}; use a numeric id` }],
            { providerId: this.providerId, cause: error },
          );
        }
        return this.sessionFailure(ref, "start the session's container")(error);
      });
  }

  /**
   * Extracts a tar archive into a created container at `path` (a directory that exists there),
   * through the Engine API: the way files of this client reach a daemon elsewhere.
   */
  async putArchive(ref: ContainerRef, path: string, archive: Buffer): Promise<void> {
    await this.container(ref)
      .putArchive(archive, { path })
      .catch(this.sessionFailure(ref, "copy cadre-agent into the session's container"));
  }

  /** Stops the container, SIGKILL after `graceSeconds`; resolves when it is stopped or gone. */
  async stopContainer(ref: ContainerRef, graceSeconds: number): Promise<void> {
    try {
      await this.container(ref).stop({ t: graceSeconds });
    } catch (error) {
      // 304: already stopped; 404: removed meanwhile. Both leave it stopped.
      const status = statusOf(error);
      if (status !== 304 && !containerGone(error)) {
        throw this.sessionError(error, ref, "stop the session");
      }
    }
  }

  /** Sends the container's first process SIGKILL, as `docker kill` does. */
  async killContainer(ref: ContainerRef): Promise<void> {
    await this.container(ref)
      .kill({ signal: "SIGKILL" })
      .catch(this.sessionFailure(ref, "kill the session's container"));
  }

  /** Kills every process of the container and starts it again (its writable layer stays). */
  async restartContainer(ref: ContainerRef): Promise<void> {
    await this.container(ref)
      .restart({ t: 0 })
      .catch(this.sessionFailure(ref, "restart the session's container"));
  }

  /** Removes the container with its anonymous volumes; resolves when it is gone, by us or not. */
  async removeContainer(ref: ContainerRef): Promise<void> {
    try {
      await this.container(ref).remove({ force: true, v: true });
    } catch (error) {
      // 404: gone already; 409: another caller's removal is in progress.
      const status = statusOf(error);
      if (containerGone(error)) return;
      if (status === 409 && /already in progress/i.test(daemonMessage(error))) {
        // Resolve only once it is gone, as for our own removal: a caller then finds nothing left.
        await this.container(ref)
          .wait({ condition: "removed", abortSignal: AbortSignal.timeout(removalWaitMs) })
          .catch(() => {});
        return;
      }
      throw this.sessionError(error, ref, "remove the session's container");
    }
  }

  /** The container as the daemon shows it now; undefined when there is none. */
  async inspectContainer(ref: ContainerRef): Promise<ContainerFacts | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.container(ref).inspect();
    } catch (error) {
      if (containerGone(error)) return undefined;
      throw this.sessionError(error, ref, "inspect the session's container");
    }
    return {
      id: info.Id,
      name: info.Name,
      labels: info.Config.Labels ?? {},
      status: info.State.Status,
      running: info.State.Running,
      oomKilled: info.State.OOMKilled === true,
      env: info.Config.Env ?? [],
      workingDir: info.Config.WorkingDir ?? "",
      exitCode: info.State.ExitCode ?? 0,
      ...finishedAtOf(info.State.FinishedAt),
    };
  }

  /**
   * What the session's container uses: the host's cgroup counters for a daemon on this machine,
   * the engine's stats for one elsewhere, and its writable layer's size. Undefined when it is
   * gone; `running` false when it is stopped.
   */
  async usage(ref: ContainerRef): Promise<{ running: boolean; usage: ContainerUsage } | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      // `size` is a query parameter of the Engine API that dockerode's typings leave out.
      info = await this.container(ref).inspect({ size: true } as Docker.ContainerInspectOptions);
    } catch (error) {
      if (containerGone(error)) return undefined;
      throw this.sessionError(error, ref, "inspect the session's container");
    }
    if (!info.State.Running) return { running: false, usage: {} };
    const sizeRw = (info as { SizeRw?: unknown }).SizeRw;
    const disk = typeof sizeRw === "number" ? { diskBytes: sizeRw } : {};
    const reading = await this.cgroupOf(info);
    if (reading) return { running: true, usage: { ...usageOfCgroup(reading), ...disk } };
    const stats = (await this.container(ref)
      .stats({ stream: false })
      .catch((error: unknown) => {
        throw this.sessionError(error, ref, "read the session container's stats");
      })) as unknown as EngineStats;
    return { running: true, usage: { ...usageOfEngineStats(stats), ...disk } };
  }

  /** Every container, running or not, that matches all of the label filters ("key" or "key=value"). */
  async listContainers(labelFilters: string[]): Promise<ContainerSummary[]> {
    const containers = await this.docker
      .listContainers({ all: true, filters: { label: labelFilters } })
      .catch(this.daemonFailure("list the session containers"));
    return containers.map((c) => ({
      id: c.Id,
      names: c.Names ?? [],
      labels: c.Labels ?? {},
      state: c.State,
    }));
  }

  /** Resolves true once the container is not running, false when `signal` aborted the wait. */
  async waitUntilStopped(ref: ContainerRef, signal: AbortSignal): Promise<boolean> {
    return this.container(ref)
      .wait({ condition: "not-running", abortSignal: signal })
      .then(
        () => true,
        (error: unknown) => {
          if (signal.aborted) return false;
          throw this.sessionError(error, ref, "wait for the session's container");
        },
      );
  }

  // What the daemon keeps beside sessions

  /** Creates a volume of that name with these labels; one of the name is replaced. */
  async putVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.removeVolume(name);
    await this.docker
      .createVolume({ Name: name, Labels: labels })
      .catch(this.daemonFailure(`create the volume ${name}`));
  }

  /** The volume's labels; undefined when there is no such volume. */
  async volumeLabels(name: string): Promise<Record<string, string> | undefined> {
    try {
      const info = await this.docker.getVolume(name).inspect();
      return info.Labels ?? {};
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.daemonError(error, `inspect the volume ${name}`);
    }
  }

  /** Volumes that match all of the label filters ("key" or "key=value"). */
  async listVolumes(
    labelFilters: string[],
  ): Promise<Array<{ name: string; labels: Record<string, string> }>> {
    const answer = await this.docker
      .listVolumes({ filters: { label: labelFilters } })
      .catch(this.daemonFailure("list volumes"));
    return (answer.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
  }

  /** Resolves when there is no volume of that name. */
  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw this.daemonError(error, `remove the volume ${name}`);
    }
  }

  /**
   * The daemon's event stream of containers that match all of the label filters, from `since`
   * (seconds, with nanoseconds after a dot) on, as a stream of JSON lines; `signal` ends it.
   */
  async containerEvents(options: {
    labelFilters: string[];
    since?: string;
    signal: AbortSignal;
  }): Promise<NodeJS.ReadableStream> {
    const filters = { type: ["container"], label: options.labelFilters };
    return this.docker
      .getEvents({
        filters: JSON.stringify(filters),
        ...(options.since ? { since: options.since } : {}),
        abortSignal: options.signal,
      } as Docker.GetEventsOptions)
      .catch(this.daemonFailure("follow the daemon's events"));
  }

  // The session's agent

  /**
   * The session container's own stdio, attached: its stdout, demultiplexed, and its stdin. The
   * agent speaks over them (docs/sandbox-agent.md). `close()` ends the attach.
   */
  async attachStdio(ref: ContainerRef): Promise<AttachedStdio> {
    const docker = this.docker;
    // The request has no body: docker-modem sends an attach's options as its JSON body (or, when
    // told to leave it, a chunked body's end), which Docker ignores and Podman writes to the
    // container's stdin, the agent's link. An empty `file` is sent as Content-Length 0.
    const stream = await new Promise<Duplex>((resolve, reject) => {
      docker.modem.dial(
        {
          path: `/containers/${encodeURIComponent(ref.id)}/attach?`,
          method: "POST",
          isStream: true,
          hijack: true,
          openStdin: true,
          statusCodes: { 101: true, 200: true, 404: "no such container", 500: "server error" },
          options: { stream: true, stdin: true, stdout: true, stderr: true },
          file: Buffer.alloc(0),
        },
        (error: unknown, attached: unknown) =>
          error ? reject(error) : resolve(attached as Duplex),
      );
    }).catch(this.sessionFailure(ref, "attach to the session's agent"));
    return this.stdioOf(stream);
  }

  /** The stdout (demultiplexed) and stdin of a hijacked attach or exec stream. */
  private stdioOf(stream: Duplex): AttachedStdio {
    const stdout = new PassThrough();
    void this.demultiplex(stream, (name, chunk) => {
      if (name === "stdout") stdout.write(chunk);
    }).then(() => stdout.destroy());
    return { stdout, stdin: stream, close: () => stream.destroy() };
  }

  /**
   * A process that the engine starts in the session as `user`, with its stdin and stdout attached
   * for as long as it runs: the agent's `connect` mode, for a host that did not start the
   * session. `close()` ends it (its stdin reads EOF).
   */
  async execStdio(ref: ContainerRef, argv: string[], user: string): Promise<AttachedStdio> {
    const exec = await this.container(ref)
      .exec({
        Cmd: argv,
        User: user,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      })
      .catch(this.sessionFailure(ref, "start the agent's connect process"));
    const stream = (await exec
      .start({ hijack: true, stdin: true, Detach: false, Tty: false })
      .catch(this.sessionFailure(ref, "start the agent's connect process"))) as Duplex;
    return this.stdioOf(stream);
  }

  /**
   * Splits an attached stream's output (without a TTY, Docker's multiplexed frames) into `sink`,
   * in order, as the bytes arrive (stream-splitter.ts), and resolves when the stream ends, closes
   * or fails, or breaks the framing (then it is destroyed). A frame cut off by a broken
   * connection gives what of it arrived.
   */
  demultiplex(stream: Readable, sink: OutputSink): Promise<void> {
    const splitter = new DockerStreamSplitter(sink);
    return new Promise((resolve) => {
      stream.on("data", (chunk: Buffer) => {
        try {
          splitter.push(chunk);
        } catch {
          stream.destroy();
          resolve();
        }
      });
      stream.once("end", () => resolve());
      stream.once("close", () => resolve());
      // A cut connection ends the output too.
      stream.on("error", () => resolve());
    });
  }

  // The memory limit

  /**
   * Whether the memory limit killed a process of the session's container since the last look. A
   * stopped container says so itself (State.OOMKilled: its main process, or under gVisor the
   * whole sandbox). For a running one, Docker records nothing about execs, so the kernel's OOM
   * kill counter of the container's memory cgroup is compared with the count read last for the
   * session, from the host's cgroup files, out of the tenant's reach (a daemon on this
   * machine only). False when they cannot be read (a remote or rootless daemon).
   */
  async oomKilledSinceLastLook(ref: ContainerRef): Promise<boolean> {
    const info = await this.container(ref)
      .inspect()
      .catch(() => undefined);
    if (info === undefined) return false;
    if (!info.State.Running) return info.State.OOMKilled === true;
    return (await (await this.limitWatch(ref, info))?.memoryKilled()) !== undefined;
  }

  /**
   * After a memory kill: the container's limit and the peak its cgroup saw (undefined where the
   * cgroup is gone with a whole gVisor sandbox, or is on another machine).
   */
  async memorySeen(ref: ContainerRef): Promise<LimitSeen> {
    const info = await this.container(ref)
      .inspect()
      .catch(() => undefined);
    const reading = info && (await this.cgroupOf(info));
    return limitSeen(
      reading?.memory.limitBytes ?? (info?.HostConfig.Memory || undefined),
      reading?.memory.peakBytes,
    );
  }

  /**
   * Whether the pids limit refused a fork in the session's container since the last look (the
   * kernel's pids.events, read as the OOM counter is), with the limit and the processes seen.
   */
  async pidsRefusedSinceLastLook(ref: ContainerRef): Promise<LimitSeen | undefined> {
    const info = await this.container(ref)
      .inspect()
      .catch(() => undefined);
    if (!info?.State.Running) return undefined;
    return (await this.limitWatch(ref, info))?.pidsRefused();
  }

  /** Drops what the client keeps about a session that is gone. */
  forgetSession(sessionId: string): void {
    this.limitWatches.delete(sessionId);
  }

  /** The session's limit counters, first looked at when its container is new to this client. */
  private async limitWatch(
    ref: ContainerRef,
    info: Docker.ContainerInspectInfo,
  ): Promise<LimitWatch | undefined> {
    const known = this.limitWatches.get(ref.sessionId);
    if (known) return known;
    const path = await this.cgroupPathOf(info);
    if (!path) return undefined;
    const watch = LimitWatch.fresh(path);
    this.limitWatches.set(ref.sessionId, watch);
    return watch;
  }

  /** The kernel's counters of the container's cgroup, from this host's files. */
  private async cgroupOf(info: Docker.ContainerInspectInfo): Promise<CgroupReading | undefined> {
    const path = await this.cgroupPathOf(info);
    return path ? readCgroup(path) : undefined;
  }

  /** Where the container's cgroup is on this host; undefined for a daemon elsewhere. */
  private async cgroupPathOf(info: Docker.ContainerInspectInfo): Promise<string | undefined> {
    if (!this.local) return undefined;
    const facts = await this.hostFacts().catch(() => undefined);
    return facts && containerCgroupPath(facts, info.Id, info.HostConfig.CgroupParent);
  }

  // Networks

  /** The networks named exactly `name` (Docker's name filter also matches parts of names). */
  async networksNamed(name: string): Promise<NetworkFacts[]> {
    const listed = await this.docker
      .listNetworks({ filters: { name: [name] } })
      .catch(this.daemonFailure("list the Docker networks"));
    return listed
      .filter((n) => n.Name === name)
      .map((n) => ({
        id: n.Id,
        name: n.Name,
        driver: n.Driver,
        labels: n.Labels ?? {},
        options: n.Options ?? {},
        ipv6: n.EnableIPv6 === true,
      }));
  }

  /**
   * Creates a network. Resolves with the daemon's refusal when its name (409) or its bridge name
   * (403) is taken already, else with undefined.
   */
  async createNetwork(spec: NetworkSpec): Promise<{ taken: string } | undefined> {
    try {
      await this.docker.createNetwork(spec);
      return undefined;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 403) return { taken: daemonMessage(error) };
      throw this.daemonError(error, "create the session network");
    }
  }

  // Errors

  private container(ref: ContainerRef): Docker.Container {
    return this.docker.getContainer(ref.id);
  }

  private sessionError(error: unknown, ref: ContainerRef, action: string): AgentRuntimeError {
    return sessionCallError(error, ref.sessionId, action, this.errors);
  }

  private daemonError(error: unknown, action: string): AgentRuntimeError {
    return daemonCallError(error, action, this.errors);
  }

  /** A rejection handler that throws the contract's error of a call about a session. */
  private sessionFailure(ref: ContainerRef, action: string): (error: unknown) => never {
    return (error) => {
      throw this.sessionError(error, ref, action);
    };
  }

  /** A rejection handler that throws the contract's error of a call about the daemon. */
  private daemonFailure(action: string): (error: unknown) => never {
    return (error) => {
      throw this.daemonError(error, action);
    };
  }
}

/** Docker's FinishedAt, unless it is its zero time (never finished). */
function finishedAtOf(value: string | undefined): { finishedAt?: string } {
  const ms = Date.parse(value ?? "");
  return Number.isFinite(ms) && ms > 0 ? { finishedAt: new Date(ms).toISOString() } : {};
}
