import {
  BackendError,
  CapabilityMismatchError,
  type CapabilityReport,
  type DoctorCheck,
  type DoctorReport,
  type ExecRequest,
  type ExecResult,
  PolicyValidationError,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import type {
  BackendSession,
  CommandDefaults,
  EngineEvent,
  NewSession,
  SessionAgentAccess,
  SessionBackend,
} from "@cadre/agent-runtime-provider-utils";
import {
  AgentLinkClosedError,
  agentBinaryPath,
  refusalOfExitCode,
} from "@cadre/agent-runtime-sandbox-agent";
import { runAgentExec } from "./agent-exec.js";
import { type SessionAgent, SessionAgents } from "./agent-session.js";
import { staticRow } from "./capability-rows.js";
import { type DockerConnection, dockerConnection } from "./connection.js";
import { agentArchive, agentPathIn, agentVolumePath } from "./container-agent.js";
import { type ContainerSpecInput, containerSpec } from "./container-spec.js";
import {
  type ContainerRef,
  type ContainerSpec,
  DockerClient,
  type ImageDefaults,
} from "./docker-client.js";
import { runDoctor } from "./doctor.js";
import { agentCheck, runtimeCheck } from "./doctor-checks.js";
import { DockerEndRecords } from "./end-records.js";
import { dockerEngineEvents } from "./engine-events.js";
import { type ExecSession, sessionEndedError } from "./exec-outcome.js";
import { enforcesCgroupLimits, type HostFacts, runtimeRegistered } from "./host-facts.js";
import { reportForHost } from "./host-report.js";
import { LabelCodec } from "./labels.js";
import { type DockerProviderOptions, type DockerRuntime, defaultImage } from "./options.js";
import { podmanSeccompProfile, seccompCheck, seccompCheckId } from "./podman-seccomp.js";
import { SessionLookup } from "./session-lookup.js";
import { joinsSessionNetwork, SessionNetwork } from "./session-network.js";
import { sessionState } from "./session-state.js";

/**
 * The env and working directory of the session container, as Docker makes them from the image's
 * and the policy's: the defaults of every command.
 */
function commandDefaults(image: ImageDefaults, policy: ValidatedPolicy): CommandDefaults {
  const env = new Map(image.env.map((entry) => [entry.slice(0, entry.indexOf("=")), entry]));
  for (const [name, value] of Object.entries(policy.env ?? {})) env.set(name, `${name}=${value}`);
  return { env: [...env.values()], cwd: policy.workdir || image.workingDir || "/" };
}

/** Node's name of a daemon's machine as its info says it ("x86_64", Podman's "amd64"). */
function nodeArchitecture(machine: string): string {
  if (machine === "x86_64" || machine === "amd64") return "x64";
  if (machine === "aarch64" || machine === "arm64") return "arm64";
  return machine;
}

/** How long a start that failed waits for the container to stop, to read why its agent refused. */
const refusalWaitMs = 5_000;

/** Seconds Docker waits after SIGTERM before SIGKILL when a session stops. */
const stopGraceSeconds = 2;

/** Builds the container of one session; the provider passes its own (see containerSpecFor). */
export type ContainerSpecBuilder = (input: ContainerSpecInput) => ContainerSpec;

/**
 * Sessions as Docker containers, through the Engine API (DockerClient). Runtime "runc" gives a
 * hardened container, "runsc" a gVisor sandbox.
 */
export class DockerBackend implements SessionBackend {
  readonly providerId = "docker";
  readonly runtime: DockerRuntime;
  readonly image: string;
  private readonly client: DockerClient;
  private readonly labels: LabelCodec;
  private readonly network: SessionNetwork;
  private readonly sessions: SessionLookup;
  /**
   * Sessions this instance is stopping or has stopped. An exec killed by that stop can end before
   * the daemon reports the container as stopped; this set makes the outcome certain.
   */
  private readonly haltedHere = new Set<string>();
  /** The sessions' agents: every command goes through the cadre-agent that is PID 1. */
  private readonly agents: SessionAgents;
  private readonly connection: DockerConnection;
  readonly endRecords: DockerEndRecords;

  constructor(
    options: DockerProviderOptions,
    private readonly specFor: ContainerSpecBuilder = containerSpec,
  ) {
    this.connection = dockerConnection(options);
    this.client = new DockerClient(this.connection, this.providerId);
    this.runtime = options.runtime ?? "runc";
    this.image = options.image ?? defaultImage;
    this.labels = new LabelCodec(options.labelPrefix);
    this.network = new SessionNetwork(this.client, options.sessionNetwork);
    this.sessions = new SessionLookup(this.client, this.labels);
    this.endRecords = new DockerEndRecords(this.client, this.labels);
    this.agents = new SessionAgents(this.client, agentPathIn(this.agentDelivery));
  }

  async capabilities(): Promise<CapabilityReport> {
    const facts = await this.client.hostFacts();
    if (!runtimeRegistered(facts, this.runtime)) {
      throw new ProviderUnavailableError(
        `The Docker daemon at ${this.client.address} has no runtime "${this.runtime}"; the provider never falls back to another runtime.`,
        { providerId: this.providerId, checks: [runtimeCheck(facts, this.runtime)] },
      );
    }
    return reportForHost(this.runtime, facts, { hostCgroups: this.client.local });
  }

  offlineCapabilities(): CapabilityReport {
    return staticRow(this.runtime);
  }

  /** A daemon on this machine mounts the agent; one elsewhere gets it through the API. */
  private get agentDelivery() {
    return this.client.local ? "mount" : "copy";
  }

  /** The agent binary for the daemon's machine (this host's, for a daemon on it), checked. */
  private agentFor(facts: HostFacts): { binary: string | undefined; check: DoctorCheck } {
    const architecture = this.client.local ? process.arch : nodeArchitecture(facts.architecture);
    const binary = agentBinaryPath(architecture);
    return { binary, check: agentCheck(binary ?? null, this.client.local, architecture) };
  }

  /**
   * The seccomp profile of the engine's sessions: the engine's default, except Podman's, which
   * lets commands create user namespaces (podman-seccomp.ts): a narrowed copy, written on this
   * machine, so only for a Podman on it.
   */
  private seccompFor(facts: HostFacts): { path?: string } | { refused: DoctorCheck } {
    if (facts.engine !== "podman") return {};
    if (!this.client.local) {
      return {
        refused: {
          id: seccompCheckId,
          title: "seccomp profile without new user namespaces (Podman)",
          ok: false,
          required: true,
          detail: `Podman at ${this.client.address} takes a seccomp profile only as a file on its own host, which this provider writes on this machine`,
          fix: "run the provider on Podman's host and reach Podman over its Unix socket",
        },
      };
    }
    return podmanSeccompProfile();
  }

  async create({
    id: sessionId,
    policy,
    labels: sessionLabelSet,
    signal,
  }: NewSession): Promise<void> {
    const image = policy.image ?? this.image;
    const [facts, imageDefaults] = await Promise.all([
      this.client.hostFacts(),
      this.client.imageDefaults(image),
    ]);
    const { binary: agentBinary, check: agent } = this.agentFor(facts);
    if (!agentBinary || !agent.ok) {
      throw new ProviderUnavailableError(
        "Sessions need cadre-agent as their PID 1: fix the failed check.",
        { providerId: this.providerId, checks: [agent] },
      );
    }
    const seccomp = this.seccompFor(facts);
    if ("refused" in seccomp) {
      throw new ProviderUnavailableError(
        "Podman's default seccomp profile lets commands create user namespaces, and the provider cannot replace it here: fix the failed check.",
        { providerId: this.providerId, checks: [seccomp.refused] },
      );
    }
    const networkMode = await this.networkModeFor(policy, facts);
    signal?.throwIfAborted();
    const spec = this.specFor({
      sessionId,
      image,
      runtime: this.runtime,
      policy,
      labels: this.labels.toDocker(sessionLabelSet),
      hostCpus: facts.cpus,
      networkMode,
      agentBinary,
      agentDelivery: this.agentDelivery,
      engine: facts.engine,
      ...(seccomp.path ? { seccompProfile: seccomp.path } : {}),
      ...(imageDefaults.user ? { imageUser: imageDefaults.user } : {}),
    });

    const container = { id: await this.client.createContainer(spec), sessionId };
    try {
      if (this.agentDelivery === "copy") {
        await this.client.putArchive(container, agentVolumePath, agentArchive(agentBinary));
      }
      signal?.throwIfAborted();
      // The session counts as started once its agent has greeted.
      await this.agents.start(container, commandDefaults(imageDefaults, policy), () =>
        this.client.startContainer(container),
      );
    } catch (error) {
      const refusal = await this.refusalOf(container, policy, error);
      await this.agents.forget(sessionId);
      await this.client.removeContainer(container).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw refusal ?? error;
    }
    this.sessions.remember(sessionId, container.id);
  }

  /**
   * The user refusal of an agent whose REFUSED frame the engine lost (Podman's attach drops what a
   * process writes as it exits): read from the agent's exit code once its container stopped.
   */
  private async refusalOf(
    container: ContainerRef,
    policy: ValidatedPolicy,
    error: unknown,
  ): Promise<PolicyValidationError | undefined> {
    if (!BackendError.isInstance(error)) return undefined;
    const stopped = await this.client
      .waitUntilStopped(container, AbortSignal.timeout(refusalWaitMs))
      .catch(() => false);
    const facts = stopped
      ? await this.client.inspectContainer(container).catch(() => undefined)
      : undefined;
    if (!facts || facts.running || refusalOfExitCode(facts.exitCode) !== "user") return undefined;
    const user = policy.user ?? "the image's user";
    return new PolicyValidationError(
      [
        {
          path: "user",
          message: `${user} is not in the image's /etc/passwd or /etc/group (or is the agent's own uid); use a user the image has`,
        },
      ],
      { providerId: this.providerId, cause: error },
    );
  }

  async exec(sessionId: string, request: ExecRequest): Promise<ExecResult> {
    return this.withSession(sessionId, async (session, agent) =>
      runAgentExec(this.client, session, agent, request),
    );
  }

  async withAgent<T>(
    sessionId: string,
    use: (agent: SessionAgentAccess) => Promise<T>,
  ): Promise<T> {
    return this.withSession(sessionId, async (session, agent) => {
      try {
        return await use({ link: agent.link, defaults: agent });
      } catch (error) {
        if (!(error instanceof AgentLinkClosedError)) throw error;
        // The agent went with its session (a stop, a removal, a memory kill of the whole
        // sandbox), or died, which ends the session.
        throw (
          (await sessionEndedError(this.client, session)) ??
          new BackendError(`${error.message}; the session can run no more commands`, {
            providerId: this.providerId,
            cause: error,
          })
        );
      }
    });
  }

  /** The session's container and attached agent, for one call. */
  private async withSession<T>(
    sessionId: string,
    use: (session: ExecSession, agent: SessionAgent) => Promise<T>,
  ): Promise<T> {
    const containerId = await this.sessions.containerId(sessionId);
    if (containerId === undefined)
      throw new SessionNotFoundError(sessionId, { providerId: this.providerId });
    const session = {
      id: containerId,
      sessionId,
      runtime: this.runtime,
      haltedHere: () => this.haltedHere.has(sessionId),
    };
    try {
      return await use(session, await this.agents.get(session));
    } catch (error) {
      // Gone (or replaced under its name): look it up again next time.
      if (SessionNotFoundError.isInstance(error)) this.sessions.forget(sessionId);
      throw error;
    }
  }

  async usage(sessionId: string) {
    if (!enforcesCgroupLimits(await this.client.hostFacts())) {
      // Its containers have no cgroup of their own: the engine's stats count nothing of them.
      throw new CapabilityMismatchError(
        { "features.usage": rootlessUsageReason },
        { providerId: this.providerId },
      );
    }
    const containerId = await this.sessions.containerId(sessionId);
    if (containerId === undefined)
      throw new SessionNotFoundError(sessionId, { providerId: this.providerId });
    const read = await this.client.usage({ id: containerId, sessionId });
    if (!read) throw new SessionNotFoundError(sessionId, { providerId: this.providerId });
    if (!read.running)
      throw new SessionNotRunningError(sessionId, "stopped", { providerId: this.providerId });
    return read.usage;
  }

  async stop(sessionId: string): Promise<void> {
    const found = await this.sessions.find(sessionId);
    if (!found?.running) return;
    this.haltedHere.add(sessionId);
    await this.client.stopContainer({ id: found.id, sessionId }, stopGraceSeconds);
    await this.agents.forget(sessionId);
  }

  async destroy(sessionId: string): Promise<void> {
    const found = await this.sessions.find(sessionId);
    if (found) {
      this.haltedHere.add(sessionId);
      await this.client.removeContainer({ id: found.id, sessionId });
    }
    await this.agents.forget(sessionId);
    // Execs still finishing now find no container, which is SESSION_NOT_FOUND: also typed.
    this.haltedHere.delete(sessionId);
    this.client.forgetSession(sessionId);
    this.sessions.forget(sessionId);
  }

  async find(sessionId: string): Promise<BackendSession | undefined> {
    const found = await this.sessions.find(sessionId);
    if (!found) return undefined;
    const session: BackendSession = {
      labels: this.labels.fromDocker(found.labels),
      state: sessionState(found.status, found.oomKilled),
    };
    if (!found.running) {
      session.exit = {
        exitCode: found.exitCode,
        oomKilled: found.oomKilled,
        ...(found.finishedAt ? { at: found.finishedAt } : {}),
      };
    }
    return session;
  }

  engineEvents(options: { since?: string; signal: AbortSignal }): AsyncIterable<EngineEvent> {
    return dockerEngineEvents(this.client, this.labels, this.sessions, options);
  }

  /** Docker's stream tells every OOM kill in a container; Podman 4's only its first process's. */
  async engineTellsOomKills(): Promise<boolean> {
    return (await this.client.hostFacts()).engine !== "podman";
  }

  async list(wanted: Record<string, string> = {}): Promise<BackendSession[]> {
    const filters = Object.entries(wanted).map(([k, v]) => `${k}=${v}`);
    const containers = await this.client.listContainers([...this.ownLabelFilter(), ...filters]);
    return containers.flatMap((c) => {
      const labels = this.labels.fromDocker(c.labels);
      const id = labels[sessionLabels.sessionId] ?? "";
      // A container whose name is not its session label's id is not a session.
      return this.sessions.isSession(c.names, c.labels, id)
        ? [{ labels, state: sessionState(c.state) }]
        : [];
    });
  }

  async close(): Promise<void> {
    await this.agents.closeAll();
  }

  async doctor(): Promise<DoctorReport> {
    return runDoctor({
      client: this.client,
      connection: this.connection,
      runtime: this.runtime,
      image: this.image,
      agent: (facts) => this.agentFor(facts).check,
      seccomp: (facts) => {
        const profile = this.seccompFor(facts);
        if ("refused" in profile) return profile.refused;
        return profile.path ? seccompCheck(profile.path) : undefined;
      },
      network: async (facts) =>
        joinsSessionNetwork({}, this.runtime, facts) ? this.network.check() : undefined,
    });
  }

  /** "none", or the session network's id once it exists and its host guard is in place. */
  private async networkModeFor(policy: ValidatedPolicy, facts: HostFacts): Promise<string> {
    if (!joinsSessionNetwork(policy, this.runtime, facts)) return "none";
    return this.network.prepare();
  }

  private ownLabelFilter(): string[] {
    return [
      this.labels.toDockerKey(sessionLabels.sessionId),
      `${this.labels.toDockerKey(sessionLabels.provider)}=${this.providerId}`,
    ];
  }
}

const rootlessUsageReason =
  "a rootless engine on cgroup v1 gives its containers no cgroup, so nothing of a session's use is counted (capabilities().features.usage is false)";
