import { join } from "node:path";
import {
  AgentRuntimeError,
  BackendError,
  type CapabilityReport,
  type DoctorReport,
  type ExecRequest,
  type ExecResult,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
  type SessionState,
  sessionLabels,
} from "@cadre/agent-runtime-contract";
import {
  type BackendSession,
  type CommandDefaults,
  LimitWatch,
  type NewSession,
  readCgroup,
  type SandboxExit,
  type SessionAgentAccess,
  type SessionBackend,
  usageOfCgroup,
} from "@cadre/agent-runtime-provider-utils";
import { AgentLinkClosedError, agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { runAgentExec } from "./agent/agent-exec.js";
import { SessionAgents } from "./agent/session-agents.js";
import { capabilityReport, providerId } from "./capabilities.js";
import { ContainerdClient } from "./containerd/client.js";
import { ContainerdEndRecords } from "./containerd/end-records.js";
import { isNotFound } from "./containerd/grpc-errors.js";
import { ImageCache } from "./containerd/image-cache.js";
import type { ResolvedImage } from "./containerd/image-layers.js";
import { normalizeImageRef } from "./containerd/image-ref.js";
import { type ImportedImage, importArchive } from "./containerd/import-archive.js";
import type { Container, TaskProcess } from "./containerd/messages.js";
import {
  findSessionContainer,
  isOwnSession,
  ownsLease,
  ownsSnapshot,
} from "./containerd/session-objects.js";
import { wrapBackendError } from "./errors.js";
import { ensureWorkdir } from "./exec/workdir.js";
import { agentCheck, runDoctor } from "./host/doctor.js";
import { detectRuntime, type RuntimeProfile } from "./host/runtime-profile.js";
import { FifoReserve, SpareFifos } from "./io/fifo-reserve.js";
import { SessionDirectories } from "./io/session-dir.js";
import { type KataProviderOptions, type ResolvedKataOptions, resolveOptions } from "./options.js";
import { type OciSpec, specTypeUrl } from "./spec/oci-types.js";
import { encodeRuntimeOptions } from "./spec/runtime-options.js";
import { buildSessionSpec, commandDefaults, sessionDefaults } from "./spec/session-spec.js";

const SIGKILL = 9;
/** How long an exec that gVisor's memory limit ended waits for the sandbox's task to end. */
const sandboxEndWaitMs = 10_000;
/**
 * How long an exec whose link closed waits for containerd to record the end of a task that still
 * reads as running (the agent died a moment ago) before it calls the session alive.
 */
const taskEndSettleMs = 1_000;
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What exec needs of a session, read once per session and kept. */
interface KnownSession {
  defaults: CommandDefaults;
  /** The host's counters of its cgroup's memory and pids limits (none for a real Kata VM's). */
  limits: LimitWatch;
}

function mergeEnv(imageEnv: string[], policyEnv: Record<string, string> | undefined): string[] {
  const byName = new Map<string, string>();
  for (const entry of [defaultPath, ...imageEnv])
    byName.set(entry.slice(0, entry.indexOf("=")), entry);
  for (const [k, v] of Object.entries(policyEnv ?? {})) byName.set(k, `${k}=${v}`);
  return [...byName.values()];
}

/**
 * Like Promise.all, but waits until every step has settled before rejecting, so the cleanup that
 * follows a failure never races a step still in flight (a lease created after it was deleted).
 */
async function settleAll<T extends readonly unknown[]>(
  steps: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const outcomes = await Promise.allSettled(steps);
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * The Kata provider's backend: each session is a containerd container with its task, a snapshot
 * and a lease, created through containerd's gRPC API with runtime io.containerd.kata.v2 (by
 * default). The task's PID 1 is cadre-agent, and every command runs through it (src/agent/).
 */
export class ContainerdBackend implements SessionBackend {
  readonly providerId = providerId;
  readonly options: ResolvedKataOptions;
  readonly client: ContainerdClient;
  readonly directories: SessionDirectories;
  private profile: Promise<RuntimeProfile> | undefined;
  private ready: Promise<void> | undefined;
  /** Sessions seen by this instance: their commands' defaults and OOM counters. */
  private readonly sessions = new Map<string, KnownSession>();
  private readonly fifoReserves = new Map<string, FifoReserve>();
  /** FIFOs made ahead of time for the links of every session. */
  private readonly spareFifos: SpareFifos;
  private readonly images: ImageCache;
  /** The sessions' agents, one link each. */
  private readonly agents: SessionAgents;
  /**
   * Sessions this instance is stopping or has stopped: a command that the stop ended reports
   * SESSION_NOT_RUNNING even before containerd records the task's end.
   */
  private readonly haltedHere = new Set<string>();
  /** Ended sessions' records, as leases `<id>-ended` beside the sessions. */
  readonly endRecords: ContainerdEndRecords;

  constructor(options: KataProviderOptions = {}) {
    this.options = resolveOptions(options);
    this.client = new ContainerdClient({
      address: this.options.address,
      namespace: this.options.namespace,
    });
    this.directories = new SessionDirectories(this.options.fifoDir);
    this.spareFifos = new SpareFifos(join(this.options.fifoDir, ".spare"));
    this.images = new ImageCache(this.client, this.options.snapshotter);
    this.agents = new SessionAgents(this.client);
    this.endRecords = new ContainerdEndRecords(this.client);
  }

  runtimeProfile(): Promise<RuntimeProfile> {
    this.profile ??= detectRuntime(this.options);
    return this.profile;
  }

  async capabilities(): Promise<CapabilityReport> {
    const profile = await this.runtimeProfile();
    return capabilityReport(profile.kind, profile.variant);
  }

  async doctor(): Promise<DoctorReport> {
    return runDoctor(this.client, this.options, await this.runtimeProfile(), agentBinaryPath());
  }

  /** Fails closed when a required doctor check fails; a passing host is checked once. */
  ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      const report = await this.doctor();
      if (!report.ready) {
        throw new ProviderUnavailableError(
          "The Kata provider cannot start sessions on this host; fix the failed checks (cadre-runtime doctor shows them all):",
          { providerId, checks: report.checks.filter((c) => !c.ok && c.required) },
        );
      }
    })();
    const attempt = this.ready;
    attempt.catch(() => {
      if (this.ready === attempt) this.ready = undefined;
    });
    return attempt;
  }

  private fail(error: unknown, action: string): never {
    throw wrapBackendError(error, action, this.options.address);
  }

  async create({ id, policy: config, labels }: NewSession): Promise<void> {
    const { snapshotter } = this.options;
    const imageName = normalizeImageRef(config.image ?? this.options.image);
    const agentBinary = agentBinaryPath();
    if (!agentBinary) {
      throw new ProviderUnavailableError("No cadre-agent binary for this host's architecture.", {
        providerId,
        checks: [agentCheck(undefined)],
      });
    }
    try {
      const [image] = await settleAll([
        this.resolveImage(imageName),
        this.client.createLease(id, labels),
        this.directories.create(id, labels),
      ]);
      const mounts = await this.images.prepareSnapshot(image, id, labels, id);
      const spec = buildSessionSpec({
        sessionId: id,
        policy: config,
        // The agent resolves it in the image's /etc files, and refuses a user the image lacks.
        user: config.user ?? image.user,
        agentBinary,
        env: mergeEnv(image.env, config.env),
        cwd: config.workdir ?? (image.workingDir || "/"),
        cgroupParent: this.options.cgroupParent,
        defaultPids: (await this.capabilities()).policy.pids.enforced
          ? sessionDefaults.pids
          : undefined,
      });
      const runtimeOptions = encodeRuntimeOptions(this.options.runtimeOptions);
      await this.client.createContainer(
        {
          id,
          labels,
          image: imageName,
          runtime: {
            name: this.options.runtime,
            ...(runtimeOptions ? { options: runtimeOptions } : {}),
          },
          spec: { type_url: specTypeUrl, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter,
          snapshot_key: id,
        },
        { lease: id },
      );
      const defaults = commandDefaults(spec);
      // The session counts as started once its agent has greeted.
      const agent = await this.agents.start(id, defaults, this.fifoReserve(id), async (stdio) => {
        await this.client.createTask(id, mounts, stdio);
        await this.client.startProcess(id);
      });
      await ensureWorkdir(agent, { client: this.client, containerId: id });
      this.sessions.set(id, { defaults, limits: LimitWatch.fresh(spec.linux.cgroupsPath) });
    } catch (error) {
      await this.destroy(id).catch(() => {});
      this.fail(error, `start session ${id}`);
    }
  }

  private async resolveImage(name: string): Promise<ResolvedImage> {
    try {
      return await this.images.resolve(name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      // As for Docker: what this host lacks, for the operator to add, not a fault of the engine.
      const { namespace } = this.options;
      throw new ProviderUnavailableError(
        `The image ${name} is not in containerd namespace ${namespace}.`,
        {
          providerId,
          cause: error,
          checks: [
            {
              id: "kata.image",
              title: `image ${name} in namespace ${namespace}`,
              ok: false,
              required: true,
              detail: "not found (no registry is used)",
              fix: "load it with importImage(tarball) (a `docker save` or OCI archive)",
            },
          ],
        },
      );
    }
  }

  /** The stored spec of a session's container, as containerd holds it. */
  async storedSpec(id: string): Promise<OciSpec> {
    const container = await this.client.getContainer(id);
    if (!container.spec) throw new BackendError(`container ${id} has no spec`, { providerId });
    return JSON.parse(container.spec.value.toString("utf8")) as OciSpec;
  }

  /**
   * What exec needs of a session. Read and checked once per session (the container must be this
   * provider's session of exactly that id), then kept: exec's hot path costs no lookup.
   */
  private async known(id: string): Promise<KnownSession> {
    const cached = this.sessions.get(id);
    if (cached) return cached;
    let found: Awaited<ReturnType<typeof findSessionContainer>>;
    try {
      found = await findSessionContainer(this.client, id);
    } catch (error) {
      this.fail(error, `read session ${id}`);
    }
    if (found.kind !== "own") throw new SessionNotFoundError(id, { providerId });
    const { container } = found;
    if (!container.spec) throw new BackendError(`container ${id} has no spec`, { providerId });
    const spec = JSON.parse(container.spec.value.toString("utf8")) as OciSpec;
    // The connect exec's FIFOs go there.
    await this.directories.create(id, container.labels);
    const session: KnownSession = {
      defaults: commandDefaults(spec),
      limits: await LimitWatch.adopt(spec.linux.cgroupsPath),
    };
    this.sessions.set(id, session);
    return session;
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const session = await this.known(id);
    const signal = request.options.signal;
    if (signal?.aborted) throw signal.reason;
    let result: ExecResult;
    try {
      const agent = await this.agents.get(id, session.defaults, this.fifoReserve(id), () =>
        this.checkRunning(id),
      );
      result = await runAgentExec(
        {
          sessionId: id,
          limits: session.limits,
          haltedHere: () => this.haltedHere.has(id),
          endedError: () => this.endedError(id),
        },
        agent,
        request,
      );
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error;
      // Gone (removed by another instance): look it up again next time.
      if (SessionNotFoundError.isInstance(error)) this.sessions.delete(id);
      if (!AgentRuntimeError.isInstance(error)) {
        // The engine's wording varies by shim; the session's state says what went wrong.
        const ended = await this.notRunningError(id).catch(() => undefined);
        if (ended) throw ended;
      }
      this.fail(error, `run ${JSON.stringify(request.argv[0])} in session ${id}`);
    }
    if (result.limitExceeded === "memory" && (await this.runtimeProfile()).kind === "runsc") {
      // gVisor's memory limit kills the whole sandbox. The result returns once its task has
      // ended, so from then on the session reads "failed", not "running" while the shim lags.
      await this.client.wait(id, "", sandboxEndWaitMs).catch(() => {});
    }
    return result;
  }

  /** The host's cgroup counters of the session and its writable layer's size, from containerd. */
  async usage(id: string) {
    const session = await this.known(id);
    const ended = await this.notRunningError(id);
    if (ended) throw ended;
    const [reading, disk] = await Promise.all([
      readCgroup(session.limits.cgroupPath),
      this.client.snapshotUsage(this.options.snapshotter, id).catch(() => undefined),
    ]);
    return {
      ...(reading ? usageOfCgroup(reading) : {}),
      ...(disk !== undefined && Number.isFinite(disk) ? { diskBytes: disk } : {}),
    };
  }

  async withAgent<T>(id: string, use: (agent: SessionAgentAccess) => Promise<T>): Promise<T> {
    const session = await this.known(id);
    const agent = await this.agents.get(id, session.defaults, this.fifoReserve(id), () =>
      this.checkRunning(id),
    );
    try {
      return await use({ link: agent.link, defaults: agent.defaults });
    } catch (error) {
      if (!(error instanceof AgentLinkClosedError)) throw error;
      throw (
        (await this.endedError(id).catch(() => undefined)) ??
        new BackendError(`${error.message}; the session can run no more commands`, {
          providerId,
          cause: error,
        })
      );
    }
  }

  /**
   * Before a connect exec: a session whose task is gone or ended takes no command. The container
   * was checked when the session became known, so a running task costs one call.
   */
  private async checkRunning(id: string): Promise<void> {
    if (!this.haltedHere.has(id) && (await this.taskState(id)).state === "running") return;
    const error = await this.notRunningError(id);
    if (error) throw error;
  }

  /** The typed error of a session that no longer runs, or undefined while it runs. */
  private async notRunningError(id: string): Promise<AgentRuntimeError | undefined> {
    if (this.haltedHere.has(id)) return new SessionNotRunningError(id, "stopped", { providerId });
    const state = await this.stateOf(id);
    if (state === undefined) return new SessionNotFoundError(id, { providerId });
    if (state !== "running") return new SessionNotRunningError(id, state, { providerId });
    return undefined;
  }

  /**
   * After a link closed under a command: how the session ended, if it did. The agent's death
   * closes the link a moment before containerd records the task's end, so a task that still
   * reads as running is given that moment.
   */
  private async endedError(id: string): Promise<AgentRuntimeError | undefined> {
    const now = await this.notRunningError(id);
    if (now) return now;
    const ended = await this.client.wait(id, "", taskEndSettleMs).then(
      () => true,
      () => false,
    );
    return ended ? this.notRunningError(id) : undefined;
  }

  private fifoReserve(id: string): FifoReserve {
    let reserve = this.fifoReserves.get(id);
    if (!reserve) {
      reserve = new FifoReserve(this.directories.path(id), this.spareFifos);
      this.fifoReserves.set(id, reserve);
    }
    return reserve;
  }

  /**
   * Kills and deletes the task; the container, snapshot and lease stay. Idempotent. Touches
   * nothing unless the container is this provider's session of exactly that id.
   */
  async stop(id: string): Promise<void> {
    try {
      if ((await findSessionContainer(this.client, id)).kind !== "own") return;
      this.haltedHere.add(id);
      await this.stopTask(id);
    } catch (error) {
      this.fail(error, `stop session ${id}`);
    } finally {
      await this.agents.forget(id);
    }
  }

  private async stopTask(id: string): Promise<void> {
    // An exited task answers NotFound ("process already finished") yet must still be deleted,
    // or its shim lives on after the container is gone; a task that is not there is NotFound to
    // Wait and Delete too.
    await this.client.kill(id, SIGKILL).catch(() => {});
    await ignoreNotFound(this.client.wait(id));
    await ignoreNotFound(this.client.deleteTask(id));
  }

  /**
   * Removes task, container, snapshot, lease and FIFO directory, from any state (a start cut
   * short leaves some of them). Idempotent. Each object goes only when its labels make it this
   * provider's session of exactly that id: a container of another provider or deployment under
   * that name is left as it is.
   */
  async destroy(id: string): Promise<void> {
    this.sessions.delete(id);
    this.fifoReserves.delete(id);
    let ownContainer = false;
    try {
      ownContainer = (await findSessionContainer(this.client, id)).kind === "own";
      if (ownContainer) {
        this.haltedHere.add(id);
        await this.agents.forget(id);
        await this.stopTask(id);
        await ignoreNotFound(this.client.deleteContainer(id));
      }
      const { snapshotter } = this.options;
      if (await ownsSnapshot(this.client, snapshotter, id)) {
        await ignoreNotFound(this.client.removeSnapshot(snapshotter, id));
      }
      if (await ownsLease(this.client, id)) await ignoreNotFound(this.client.deleteLease(id));
    } catch (error) {
      this.fail(error, `destroy session ${id}`);
    } finally {
      // Execs still finishing now find no container, which is SESSION_NOT_FOUND: also typed.
      this.haltedHere.delete(id);
      // Local, so it goes even while containerd is unreachable (a start that failed for that
      // made only this); what is left in containerd carries the session's labels there.
      await this.directories.remove(id, ownContainer);
    }
  }

  /**
   * The session's state from its task: stopSession deletes the task, so a stopped task that is
   * still there died on its own, and says how (its exit status and time) for its end.
   */
  private async taskState(
    id: string,
    container?: Container,
  ): Promise<Pick<BackendSession, "state" | "exit">> {
    try {
      const process = await this.client.getProcess(id);
      if (process.status !== "STOPPED") return { state: "running" };
      return { state: "failed", exit: await exitOfTask(process, container) };
    } catch (error) {
      if (isNotFound(error)) return { state: "stopped" };
      throw error;
    }
  }

  private async stateOf(id: string): Promise<SessionState | undefined> {
    if ((await findSessionContainer(this.client, id)).kind !== "own") return undefined;
    return (await this.taskState(id)).state;
  }

  private async toSession(container: Container): Promise<BackendSession | undefined> {
    if (!isOwnSession(container.labels, container.id)) return undefined;
    return {
      labels: container.labels,
      ...(await this.taskState(container.id, container)),
    };
  }

  async find(id: string): Promise<BackendSession | undefined> {
    try {
      const found = await findSessionContainer(this.client, id);
      return found.kind === "own" ? await this.toSession(found.container) : undefined;
    } catch (error) {
      this.fail(error, `read session ${id}`);
    }
  }

  async list(): Promise<BackendSession[]> {
    try {
      const containers = await this.client.listContainers([
        `labels."${sessionLabels.provider}"==${providerId}`,
      ]);
      const sessions = await Promise.all(containers.map((c) => this.toSession(c)));
      return sessions.filter((s) => s !== undefined);
    } catch (error) {
      this.fail(error, "list sessions");
    }
  }

  /** Loads a `docker save` or OCI archive into the namespace and unpacks it. */
  async importImage(tarball: string, options: { name?: string } = {}): Promise<ImportedImage[]> {
    try {
      return await importArchive(this.client, this.options.snapshotter, tarball, options);
    } catch (error) {
      this.fail(error, `import ${tarball}`);
    }
  }

  /** Lets go of every agent link (the sessions go on) and of containerd. */
  async close(): Promise<void> {
    await this.agents.closeAll();
    await this.spareFifos.close();
    this.client.close();
  }
}

/**
 * How a session's stopped task ended, as containerd keeps it until the task is deleted. Its
 * PID 1 killed (137) in a cgroup whose OOM killer struck was the memory limit: gVisor's takes the
 * whole sandbox. The counter cannot tell an earlier command's OOM kill from the agent's, so a
 * session killed from outside after one of its commands was reads memory too.
 */
async function exitOfTask(process: TaskProcess, container?: Container): Promise<SandboxExit> {
  const seconds = process.exited_at?.seconds;
  const at =
    seconds !== undefined && seconds > 0
      ? new Date(seconds * 1000 + Math.floor((process.exited_at?.nanos ?? 0) / 1e6)).toISOString()
      : undefined;
  const killed = process.exit_status === 137;
  // The spec is read only for a killed task, not for every session a listing reads.
  const cgroupPath = killed && container ? cgroupPathOf(container) : undefined;
  const reading = cgroupPath ? await readCgroup(cgroupPath) : undefined;
  return {
    exitCode: process.exit_status,
    ...(at !== undefined ? { at } : {}),
    ...((reading?.oomKills ?? 0) > 0 ? { oomKilled: true } : {}),
  };
}

/** The cgroup the session's spec put it in, on this host. */
function cgroupPathOf(container: Container): string | undefined {
  if (!container.spec) return undefined;
  try {
    const spec = JSON.parse(container.spec.value.toString("utf8")) as Partial<OciSpec>;
    return typeof spec.linux?.cgroupsPath === "string" ? spec.linux.cgroupsPath : undefined;
  } catch {
    return undefined;
  }
}
