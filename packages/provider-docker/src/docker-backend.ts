import {
  AgentRuntimeError,
  type CapabilityReport,
  type DoctorReport,
  type ExecRequest,
  type ExecResult,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import type {
  BackendSession,
  NewSession,
  SessionBackend,
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

/** Builds the container of one session; the provider passes its own (see containerSpecFor). */
export type ContainerSpecBuilder = (input: ContainerSpecInput) => ContainerCreateOptions;

/**
 * Sessions as Docker containers, through the Engine API (dockerode). Runtime "runc" gives a
 * hardened container, "runsc" a gVisor sandbox.
 */
export class DockerBackend implements SessionBackend {
  readonly providerId = "docker";
  readonly runtime: DockerRuntime;
  readonly image: string;
  private readonly docker: Docker;
  private readonly address: string;
  private readonly labels: LabelCodec;
  private readonly oom: OomDetector;
  private readonly network: SessionNetwork;
  private readonly sessions: SessionLookup;
  /**
   * Sessions this instance is stopping or has stopped. An exec killed by that stop can end before
   * the daemon reports the container as stopped; this set makes the outcome certain.
   */
  private readonly haltedHere = new Set<string>();
  private factsPromise: Promise<HostFacts> | undefined;

  constructor(
    options: DockerProviderOptions,
    private readonly specFor: ContainerSpecBuilder = containerSpec,
  ) {
    const connection = connectionOptions(options);
    this.docker = new Docker(connection);
    this.address = describeConnection(connection);
    this.runtime = options.runtime ?? "runc";
    this.image = options.image ?? defaultImage;
    this.labels = new LabelCodec(options.labelPrefix);
    this.oom = new OomDetector(() => this.hostFacts());
    this.network = new SessionNetwork(this.docker, options.sessionNetwork, this.providerId);
    this.sessions = new SessionLookup(
      this.docker,
      this.labels,
      this.providerId,
      (error, id, action) => this.callError(error, id, action),
    );
  }

  async capabilities(): Promise<CapabilityReport> {
    const facts = await this.hostFacts();
    if (!runtimeRegistered(facts, this.runtime)) {
      throw new ProviderUnavailableError(
        `The Docker daemon at ${this.address} has no runtime "${this.runtime}"; the provider never falls back to another runtime.`,
        { providerId: this.providerId, checks: [runtimeCheck(facts, this.runtime)] },
      );
    }
    return reportForHost(this.runtime, facts);
  }

  offlineCapabilities(): CapabilityReport {
    return staticRow(this.runtime);
  }

  async create({
    id: sessionId,
    policy,
    labels: sessionLabelSet,
    signal,
  }: NewSession): Promise<void> {
    const facts = await this.hostFacts();
    const networkMode = await this.networkModeFor(policy, facts);
    signal?.throwIfAborted();
    const image = policy.image ?? this.image;
    const spec = this.specFor({
      sessionId,
      image,
      runtime: this.runtime,
      policy,
      labels: this.labels.toDocker(sessionLabelSet),
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
      signal?.throwIfAborted();
      await container.start();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw this.callError(error, sessionId, "start the session's container");
    }
    this.sessions.remember(sessionId, container.id);
  }

  async exec(sessionId: string, request: ExecRequest): Promise<ExecResult> {
    const containerId = await this.sessions.containerId(sessionId);
    if (containerId === undefined)
      throw new SessionNotFoundError(sessionId, { providerId: this.providerId });
    return runExec(this.execTarget(sessionId, containerId), request);
  }

  async stop(sessionId: string): Promise<void> {
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

  async destroy(sessionId: string): Promise<void> {
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

  async find(sessionId: string): Promise<BackendSession | undefined> {
    const found = await this.sessions.find(sessionId);
    if (!found) return undefined;
    return {
      labels: this.labels.fromDocker(found.info.Config.Labels ?? {}),
      state: sessionState(found.info.State.Status, found.info.State.OOMKilled),
    };
  }

  async list(wanted: Record<string, string> = {}): Promise<BackendSession[]> {
    const filters = Object.entries(wanted).map(([k, v]) => `${k}=${v}`);
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({
        all: true,
        filters: { label: [...this.ownLabelFilter(), ...filters] },
      });
    } catch (error) {
      throw this.daemonError(error, "list the session containers");
    }
    return containers.flatMap((c) => {
      const labels = this.labels.fromDocker(c.Labels ?? {});
      const id = labels[sessionLabels.sessionId] ?? "";
      // A container whose name is not its session label's id is not a session.
      return this.sessions.isSession(c.Names ?? [], c.Labels, id)
        ? [{ labels, state: sessionState(c.State) }]
        : [];
    });
  }

  async doctor(): Promise<DoctorReport> {
    return runDoctor({
      docker: this.docker,
      address: this.address,
      runtime: this.runtime,
      image: this.image,
      providerId: this.providerId,
      facts: () => this.hostFacts(),
      network: async (facts) =>
        joinsSessionNetwork({}, this.runtime, facts) ? this.network.check() : undefined,
    });
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
      `${this.labels.toDockerKey(sessionLabels.provider)}=${this.providerId}`,
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
      notRunning: () =>
        new SessionNotRunningError(sessionId, "stopped", { providerId: this.providerId }),
      sessionEnded: async () => {
        if (this.haltedHere.has(sessionId)) {
          return new SessionNotRunningError(sessionId, "stopped", { providerId: this.providerId });
        }
        const stopped = new SessionNotRunningError(sessionId, "stopped", {
          providerId: this.providerId,
        });
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
    this.oom.forget(sessionId);
    this.sessions.forget(sessionId);
  }

  private callError(error: unknown, sessionId: string, action: string): AgentRuntimeError {
    return sessionCallError(error, {
      sessionId,
      action,
      providerId: this.providerId,
      address: this.address,
    });
  }

  private daemonError(error: unknown, action: string): AgentRuntimeError {
    if (AgentRuntimeError.isInstance(error)) return error;
    if (isConnectionError(error)) return unavailable(this.address, error, this.providerId);
    return backendError(error, action, this.providerId);
  }

  private createError(error: unknown, image: string): AgentRuntimeError {
    if (statusOf(error) === 404 && /no such image/i.test(daemonMessage(error))) {
      return new ProviderUnavailableError(
        `The image ${image} is not in the Docker daemon's image store.`,
        {
          providerId: this.providerId,
          cause: error,
          checks: [imageCheck(image, false)],
        },
      );
    }
    return this.daemonError(error, "create the session's container");
  }
}
