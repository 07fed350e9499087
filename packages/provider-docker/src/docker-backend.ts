import {
  BackendError,
  type CapabilityReport,
  type DoctorReport,
  type ExecRequest,
  type ExecResult,
  ProviderUnavailableError,
  SessionNotFoundError,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import type {
  BackendSession,
  CommandDefaults,
  NewSession,
  SessionAgentAccess,
  SessionBackend,
} from "@cadre/agent-runtime-provider-utils";
import { AgentLinkClosedError, agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { runAgentExec } from "./agent-exec.js";
import { type SessionAgent, SessionAgents } from "./agent-session.js";
import { staticRow } from "./capability-rows.js";
import { dockerConnection } from "./connection.js";
import { type ContainerSpecInput, containerSpec } from "./container-spec.js";
import { type ContainerSpec, DockerClient, type ImageDefaults } from "./docker-client.js";
import { runDoctor } from "./doctor.js";
import { agentCheck, runtimeCheck } from "./doctor-checks.js";
import { type ExecSession, sessionEndedError } from "./exec-outcome.js";
import { type HostFacts, runtimeRegistered } from "./host-facts.js";
import { reportForHost } from "./host-report.js";
import { LabelCodec } from "./labels.js";
import { type DockerProviderOptions, type DockerRuntime, defaultImage } from "./options.js";
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
  private readonly agentBinary: string | undefined;

  constructor(
    options: DockerProviderOptions,
    private readonly specFor: ContainerSpecBuilder = containerSpec,
  ) {
    this.client = new DockerClient(dockerConnection(options), this.providerId);
    this.runtime = options.runtime ?? "runc";
    this.image = options.image ?? defaultImage;
    this.labels = new LabelCodec(options.labelPrefix);
    this.network = new SessionNetwork(this.client, options.sessionNetwork);
    this.sessions = new SessionLookup(this.client, this.labels);
    this.agentBinary = agentBinaryPath();
    this.agents = new SessionAgents(this.client);
  }

  async capabilities(): Promise<CapabilityReport> {
    const facts = await this.client.hostFacts();
    if (!runtimeRegistered(facts, this.runtime)) {
      throw new ProviderUnavailableError(
        `The Docker daemon at ${this.client.address} has no runtime "${this.runtime}"; the provider never falls back to another runtime.`,
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
    const agentBinary = this.agentBinary;
    if (!agentBinary || !this.client.local) {
      throw new ProviderUnavailableError(
        "Sessions need cadre-agent as their PID 1, mounted from this host: fix the failed check.",
        {
          providerId: this.providerId,
          checks: [agentCheck(agentBinary ?? null, this.client.local)],
        },
      );
    }
    const image = policy.image ?? this.image;
    const [facts, imageDefaults] = await Promise.all([
      this.client.hostFacts(),
      this.client.imageDefaults(image),
    ]);
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
      ...(imageDefaults.user ? { imageUser: imageDefaults.user } : {}),
    });

    const container = { id: await this.client.createContainer(spec), sessionId };
    try {
      signal?.throwIfAborted();
      // The session counts as started once its agent has greeted.
      await this.agents.start(container, commandDefaults(imageDefaults, policy), () =>
        this.client.startContainer(container),
      );
    } catch (error) {
      await this.agents.forget(sessionId);
      await this.client.removeContainer(container).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
    this.sessions.remember(sessionId, container.id);
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
    return {
      labels: this.labels.fromDocker(found.labels),
      state: sessionState(found.status, found.oomKilled),
    };
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
      runtime: this.runtime,
      image: this.image,
      agentBinary: this.agentBinary ?? null,
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
