import {
  AgentRuntimeError,
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  ProviderUnavailableError,
  parseExecRequest,
  type ReapOptions,
  type SessionFilter,
  type SessionInfo,
  SessionNotFoundError,
  SessionNotRunningError,
  type SessionOptions,
  sessionLabels,
  specificationVersion,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import {
  buildSessionLabels,
  isReapable,
  newSessionId,
  sessionInfoFromLabels,
  TtlTimers,
} from "@cadre/agent-runtime-provider-utils";
import Docker, { type ContainerCreateOptions } from "dockerode";
import { staticRow } from "./capability-rows.js";
import { type ContainerSpecInput, containerSpec } from "./container-spec.js";
import {
  backendError,
  daemonMessage,
  isConnectionError,
  sessionCallError,
  statusOf,
  unavailable,
} from "./docker-errors.js";
import { imageCheck, runDoctor, runtimeCheck } from "./doctor.js";
import { type ExecTarget, runExec } from "./exec-runner.js";
import { type HostFacts, hostFactsFromInfo, runtimeRegistered } from "./host-facts.js";
import { reportForHost } from "./host-report.js";
import { LabelCodec } from "./labels.js";
import { OomDetector } from "./oom-detector.js";
import {
  connectionOptions,
  type DockerProviderOptions,
  type DockerRuntime,
  defaultImage,
  describeConnection,
} from "./options.js";
import { SessionLookup } from "./session-lookup.js";
import { joinsSessionNetwork, SessionNetwork } from "./session-network.js";
import { sessionState } from "./session-state.js";

/** How long an exec that gVisor ended with 128 waits for its sandbox to be recorded as dead. */
const sandboxExitWaitMs = 10_000;

/** Resolves when the container is not running, or after `ms` (it may never stop). */
async function waitUntilStopped(container: Docker.Container, ms: number): Promise<void> {
  await container
    .wait({ condition: "not-running", abortSignal: AbortSignal.timeout(ms) })
    .catch(() => {});
}

/**
 * How long an exec that a signal ended (one the provider did not send) waits for its container to
 * be recorded as stopped, before the signal counts as the command's own.
 */
const sessionEndSettleMs = 500;

/** Seconds Docker waits after SIGTERM before SIGKILL when a session stops. */
const stopGraceSeconds = 2;

/**
 * Sessions as Docker containers, through the Engine API (dockerode). Runtime "runc" gives a
 * hardened container, "runsc" a gVisor sandbox.
 */
export class DockerProvider implements IsolationProvider {
  readonly specificationVersion = specificationVersion;
  readonly id = "docker";
  readonly runtime: DockerRuntime;
  readonly image: string;
  private readonly docker: Docker;
  private readonly address: string;
  private readonly labels: LabelCodec;
  private readonly oom: OomDetector;
  private readonly network: SessionNetwork;
  private readonly sessions: SessionLookup;
  private readonly ttl = new TtlTimers((id) => this.destroySession(id), "docker");
  /**
   * Sessions this instance is stopping or has stopped. An exec killed by that stop can end before
   * the daemon reports the container as stopped; this set makes the outcome certain.
   */
  private readonly haltedHere = new Set<string>();
  private factsPromise: Promise<HostFacts> | undefined;

  constructor(options: DockerProviderOptions = {}) {
    const connection = connectionOptions(options);
    this.docker = new Docker(connection);
    this.address = describeConnection(connection);
    this.runtime = options.runtime ?? "runc";
    this.image = options.image ?? defaultImage;
    this.labels = new LabelCodec(options.labelPrefix);
    this.oom = new OomDetector(() => this.hostFacts());
    this.network = new SessionNetwork(this.docker, options.sessionNetwork, this.id);
    this.sessions = new SessionLookup(this.docker, this.labels, this.id, (error, id, action) =>
      this.callError(error, id, action),
    );
  }

  async capabilities(): Promise<CapabilityReport> {
    const facts = await this.hostFacts();
    if (!runtimeRegistered(facts, this.runtime)) {
      throw new ProviderUnavailableError(
        `The Docker daemon at ${this.address} has no runtime "${this.runtime}"; the provider never falls back to another runtime.`,
        { providerId: this.id, checks: [runtimeCheck(facts, this.runtime)] },
      );
    }
    return reportForHost(this.runtime, facts);
  }

  async startSession(input: IsolationPolicy, options: SessionOptions = {}): Promise<string> {
    const report = await this.capabilities().catch((error: unknown) => {
      // Bad input is reported as such even when the daemon is down.
      checkPolicy(input, staticRow(this.runtime));
      throw error;
    });
    const policy = checkPolicy(input, report);
    const facts = await this.hostFacts();
    options.signal?.throwIfAborted();
    const networkMode = await this.networkModeFor(policy, facts);
    options.signal?.throwIfAborted();

    const sessionId = newSessionId();
    const image = policy.image ?? this.image;
    const labels = this.labels.toDocker(
      buildSessionLabels({ sessionId, providerId: this.id, policy }),
    );
    const spec = this.containerSpecFor({
      sessionId,
      image,
      runtime: this.runtime,
      policy,
      labels,
      hostCpus: facts.cpus,
      networkMode,
    });

    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(spec);
    } catch (error) {
      throw this.createError(error, image);
    }
    try {
      options.signal?.throwIfAborted();
      await container.start();
      options.signal?.throwIfAborted();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => {});
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.callError(error, sessionId, "start the session's container");
    }
    this.sessions.remember(sessionId, container.id);
    if (policy.ttlMs !== undefined) this.ttl.scheduleIn(sessionId, policy.ttlMs);
    return sessionId;
  }

  async exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const request = parseExecRequest(argv, options, this.id);
    const containerId = await this.sessions.containerId(sessionId);
    if (containerId === undefined)
      throw new SessionNotFoundError(sessionId, { providerId: this.id });
    return runExec(this.execTarget(sessionId, containerId), request);
  }

  async stopSession(sessionId: string): Promise<void> {
    const found = await this.sessions.find(sessionId);
    if (!found?.info.State.Running) return;
    this.haltedHere.add(sessionId);
    try {
      await found.container.stop({ t: stopGraceSeconds });
    } catch (error) {
      // 304: already stopped; 404: removed meanwhile. Both leave the session stopped.
      const status = statusOf(error);
      if (status !== 304 && status !== 404)
        throw this.callError(error, sessionId, "stop the session");
    }
  }

  async destroySession(sessionId: string): Promise<void> {
    const found = await this.sessions.find(sessionId);
    if (!found) {
      this.haltedHere.delete(sessionId);
      this.forgetSession(sessionId);
      return;
    }
    this.haltedHere.add(sessionId);
    try {
      await found.container.remove({ force: true, v: true });
    } catch (error) {
      // 404: gone already; 409: another caller's removal is in progress.
      const status = statusOf(error);
      const gone =
        status === 404 || (status === 409 && /already in progress/i.test(daemonMessage(error)));
      if (!gone) throw this.callError(error, sessionId, "remove the session's container");
    }
    // Execs still finishing now find no container, which is SESSION_NOT_FOUND: also typed.
    this.haltedHere.delete(sessionId);
    this.forgetSession(sessionId);
  }

  async getSession(sessionId: string): Promise<SessionInfo> {
    const found = await this.sessions.find(sessionId);
    const info =
      found &&
      sessionInfoFromLabels(
        this.labels.fromDocker(found.info.Config.Labels ?? {}),
        sessionState(found.info.State.Status, found.info.State.OOMKilled),
      );
    if (!info) throw new SessionNotFoundError(sessionId, { providerId: this.id });
    return info;
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionInfo[]> {
    const wanted = Object.entries(filter.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({
        all: true,
        filters: { label: [...this.ownLabelFilter(), ...wanted] },
      });
    } catch (error) {
      throw this.daemonError(error, "list the session containers");
    }
    return containers.flatMap((c) => {
      const info = sessionInfoFromLabels(
        this.labels.fromDocker(c.Labels ?? {}),
        sessionState(c.State),
      );
      // A container whose name is not its session label's id is not a session.
      return info && this.sessions.isSession(c.Names ?? [], c.Labels, info.id) ? [info] : [];
    });
  }

  async reap(options: ReapOptions = {}): Promise<string[]> {
    const now = Date.now();
    const reapable = (await this.listSessions()).filter((s) =>
      isReapable(s, now, options.olderThanMs),
    );
    await Promise.all(reapable.map((s) => this.destroySession(s.id)));
    return reapable.map((s) => s.id);
  }

  async doctor(): Promise<DoctorReport> {
    return runDoctor({
      docker: this.docker,
      address: this.address,
      runtime: this.runtime,
      image: this.image,
      providerId: this.id,
      facts: () => this.hostFacts(),
      network: async (facts) =>
        joinsSessionNetwork({}, this.runtime, facts) ? this.network.check() : undefined,
    });
  }

  async close(): Promise<void> {
    this.ttl.cancelAll();
  }

  /** The daemon's facts, read once per instance (again after a failure). */
  private hostFacts(): Promise<HostFacts> {
    if (!this.factsPromise) {
      this.factsPromise = Promise.all([this.docker.info(), this.docker.version()])
        .then(([info, version]) =>
          hostFactsFromInfo(info as Record<string, unknown>, version.ApiVersion),
        )
        .catch((error: unknown) => {
          this.factsPromise = undefined;
          throw this.daemonError(error, "read the daemon's info");
        });
    }
    return this.factsPromise;
  }

  /**
   * The container of one session. A subclass may change it only to break it on purpose: the
   * conformance self-test strips the hardening this way to prove the boundary probe catches it.
   */
  protected containerSpecFor(input: ContainerSpecInput): ContainerCreateOptions {
    return containerSpec(input);
  }

  /** "none", or the session network's id once it exists and its host guard is in place. */
  private async networkModeFor(policy: ValidatedPolicy, facts: HostFacts): Promise<string> {
    if (!joinsSessionNetwork(policy, this.runtime, facts)) return "none";
    try {
      return await this.network.prepare();
    } catch (error) {
      throw this.daemonError(error, "prepare the session network");
    }
  }

  private ownLabelFilter(): string[] {
    return [
      this.labels.toDockerKey(sessionLabels.sessionId),
      `${this.labels.toDockerKey(sessionLabels.provider)}=${this.id}`,
    ];
  }

  /** What the exec runner needs for one session, aimed at its verified container id. */
  private execTarget(sessionId: string, containerId: string): ExecTarget {
    const container = this.docker.getContainer(containerId);
    const target: ExecTarget = {
      container,
      toError: (error, action) => {
        // Gone (or replaced under its name): look it up again next time.
        if (statusOf(error) === 404) this.sessions.forget(sessionId);
        return this.callError(error, sessionId, action);
      },
      restartSession: async () => {
        await container.restart({ t: 0 }).catch((error: unknown) => {
          throw this.callError(error, sessionId, "restart the session to kill a command");
        });
      },
      wasOomKilled: async (exitCode) => {
        if (this.runtime === "runc")
          return exitCode === 137 && this.oom.wasOomKilled(sessionId, container);
        // gVisor: the limit kills the whole sandbox, and the exec may report it (128) before
        // Docker has recorded the container's end.
        if (exitCode === 128) await waitUntilStopped(container, sandboxExitWaitMs);
        return this.oom.wasOomKilled(sessionId, container);
      },
      notRunning: () => new SessionNotRunningError(sessionId, "stopped", { providerId: this.id }),
      sessionEnded: async () => {
        if (this.haltedHere.has(sessionId)) {
          return new SessionNotRunningError(sessionId, "stopped", { providerId: this.id });
        }
        const stopped = new SessionNotRunningError(sessionId, "stopped", { providerId: this.id });
        try {
          if (!(await container.inspect()).State.Running) return stopped;
          // A daemon that is shutting down kills the container's processes before it records the
          // container as stopped: give that record a moment before calling the signal the
          // command's own.
          const settle = AbortSignal.timeout(sessionEndSettleMs);
          const stoppedSoon = await container
            .wait({ condition: "not-running", abortSignal: settle })
            .then(
              () => true,
              (error: unknown) => {
                if (settle.aborted) return false;
                throw error;
              },
            );
          return stoppedSoon ? stopped : undefined;
        } catch (error) {
          return this.callError(error, sessionId, "inspect the session's container");
        }
      },
    };
    if (this.runtime === "runsc") {
      target.containerStopped = (signal) =>
        container.wait({ condition: "not-running", abortSignal: signal }).then(
          () => undefined,
          // Aborted when the exec ended first, or the daemon is unreachable: then no answer.
          () => new Promise<void>(() => {}),
        );
    }
    return target;
  }

  /** Drops what this instance keeps about a session that is gone. */
  private forgetSession(sessionId: string): void {
    this.ttl.cancel(sessionId);
    this.oom.forget(sessionId);
    this.sessions.forget(sessionId);
  }

  private callError(error: unknown, sessionId: string, action: string): AgentRuntimeError {
    return sessionCallError(error, {
      sessionId,
      action,
      providerId: this.id,
      address: this.address,
    });
  }

  private daemonError(error: unknown, action: string): AgentRuntimeError {
    if (AgentRuntimeError.isInstance(error)) return error;
    if (isConnectionError(error)) return unavailable(this.address, error, this.id);
    return backendError(error, action, this.id);
  }

  private createError(error: unknown, image: string): AgentRuntimeError {
    if (statusOf(error) === 404 && /no such image/i.test(daemonMessage(error))) {
      return new ProviderUnavailableError(
        `The image ${image} is not in the Docker daemon's image store.`,
        {
          providerId: this.id,
          cause: error,
          checks: [imageCheck(image, false)],
        },
      );
    }
    return this.daemonError(error, "create the session's container");
  }
}

export function createDockerProvider(options?: DockerProviderOptions): DockerProvider {
  return new DockerProvider(options);
}
