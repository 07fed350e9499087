import {
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
import type {
  BackendSession,
  NewSession,
  SessionBackend,
} from "@cadre/agent-runtime-provider-utils";
import { capabilityReport, providerId } from "./capabilities.js";
import { ContainerdClient } from "./containerd/client.js";
import { isNotFound } from "./containerd/grpc-errors.js";
import { ImageCache } from "./containerd/image-cache.js";
import type { ResolvedImage } from "./containerd/image-layers.js";
import { normalizeImageRef } from "./containerd/image-ref.js";
import { type ImportedImage, importArchive } from "./containerd/import-archive.js";
import type { Container } from "./containerd/messages.js";
import {
  findSessionContainer,
  isOwnSession,
  ownsLease,
  ownsSnapshot,
} from "./containerd/session-objects.js";
import { wrapBackendError } from "./errors.js";
import { runExec } from "./exec/run-exec.js";
import { ensureWorkdir } from "./exec/workdir.js";
import { OomWatch } from "./host/cgroup-oom.js";
import { runDoctor } from "./host/doctor.js";
import { detectRuntime, type RuntimeProfile } from "./host/runtime-profile.js";
import { FifoReserve } from "./io/fifo-reserve.js";
import { SessionDirectories } from "./io/session-dir.js";
import { type KataProviderOptions, type ResolvedKataOptions, resolveOptions } from "./options.js";
import { type OciProcess, type OciSpec, specTypeUrl } from "./spec/oci-types.js";
import { encodeRuntimeOptions } from "./spec/runtime-options.js";
import { buildSessionSpec, execDefaults, sessionDefaults } from "./spec/session-spec.js";
import { resolveUser } from "./spec/user.js";

const SIGKILL = 9;
/** How long an exec that gVisor's memory limit ended waits for the sandbox's task to end. */
const sandboxEndWaitMs = 10_000;
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const noStdio = { stdin: "", stdout: "", stderr: "" };

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
 * default).
 */
export class ContainerdBackend implements SessionBackend {
  readonly providerId = providerId;
  readonly options: ResolvedKataOptions;
  readonly client: ContainerdClient;
  readonly directories: SessionDirectories;
  private profile: Promise<RuntimeProfile> | undefined;
  private ready: Promise<void> | undefined;
  /** Main process spec of sessions seen by this process: the defaults of their execs. */
  private readonly processes = new Map<string, OciProcess>();
  private readonly fifoReserves = new Map<string, FifoReserve>();
  private readonly images: ImageCache;
  /** Host-side OOM kill counters of sessions with a memory limit. */
  private readonly oomWatches = new Map<string, OomWatch>();

  constructor(options: KataProviderOptions = {}) {
    this.options = resolveOptions(options);
    this.client = new ContainerdClient({
      address: this.options.address,
      namespace: this.options.namespace,
    });
    this.directories = new SessionDirectories(this.options.fifoDir);
    this.images = new ImageCache(this.client, this.options.snapshotter);
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
    return runDoctor(this.client, this.options, await this.runtimeProfile());
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
    try {
      const [image] = await settleAll([
        this.resolveImage(imageName),
        this.client.createLease(id, labels),
        this.directories.create(id, labels),
      ]);
      const mounts = await this.images.prepareSnapshot(image, id, labels, id);
      const user = resolveUser(
        config.user ?? (image.user || "0"),
        await this.images.userFiles(image, mounts),
        providerId,
      );
      const spec = buildSessionSpec({
        sessionId: id,
        policy: config,
        user,
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
      await this.client.createTask(id, mounts, noStdio);
      await this.client.startProcess(id);
      await ensureWorkdir({ client: this.client, containerId: id }, execDefaults(spec));
      const memoryLimited = spec.linux.resources.memory !== undefined;
      this.remember(id, spec, memoryLimited ? OomWatch.fresh(spec.linux.cgroupsPath) : undefined);
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

  private remember(id: string, spec: OciSpec, oomWatch: OomWatch | undefined): void {
    this.processes.set(id, execDefaults(spec));
    if (oomWatch) this.oomWatches.set(id, oomWatch);
  }

  /** The stored spec of a session's container, as containerd holds it. */
  async storedSpec(id: string): Promise<OciSpec> {
    const container = await this.client.getContainer(id);
    if (!container.spec) throw new BackendError(`container ${id} has no spec`, { providerId });
    return JSON.parse(container.spec.value.toString("utf8")) as OciSpec;
  }

  /**
   * The session's main process spec. Read and checked once per session (the container must be
   * this provider's session of exactly that id), then kept: exec's hot path costs no lookup.
   */
  private async execBase(id: string): Promise<OciProcess> {
    const cached = this.processes.get(id);
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
    await this.directories.create(id, container.labels);
    const memoryLimited = spec.linux.resources.memory !== undefined;
    this.remember(
      id,
      spec,
      memoryLimited ? await OomWatch.adopt(spec.linux.cgroupsPath) : undefined,
    );
    return execDefaults(spec);
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const base = await this.execBase(id);
    let result: ExecResult;
    try {
      result = await runExec(
        {
          client: this.client,
          containerId: id,
          fifos: this.fifoReserve(id),
          base,
          oomWatch: this.oomWatches.get(id),
        },
        request,
      );
    } catch (error) {
      const signal = request.options.signal;
      if (signal?.aborted && error === signal.reason) throw error;
      // The engine's wording varies by shim; the session's state says what went wrong.
      const state = await this.stateOf(id).catch(() => "running" as const);
      if (state === undefined) throw new SessionNotFoundError(id, { providerId, cause: error });
      if (state !== "running")
        throw new SessionNotRunningError(id, state, { providerId, cause: error });
      this.fail(error, `run ${JSON.stringify(request.argv[0])} in session ${id}`);
    }
    if (result.limitExceeded === "memory" && (await this.runtimeProfile()).kind === "runsc") {
      // gVisor's memory limit kills the whole sandbox. The result returns once its task has
      // ended, so from then on the session reads "failed", not "running" while the shim lags.
      await this.client.wait(id, "", sandboxEndWaitMs).catch(() => {});
    }
    return result;
  }

  private fifoReserve(id: string): FifoReserve {
    let reserve = this.fifoReserves.get(id);
    if (!reserve) {
      reserve = new FifoReserve(this.directories.path(id));
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
      await this.stopTask(id);
    } catch (error) {
      this.fail(error, `stop session ${id}`);
    }
  }

  private async stopTask(id: string): Promise<void> {
    try {
      await this.client.kill(id, SIGKILL);
    } catch (error) {
      if (isNotFound(error)) return;
      // An already exited task answers "process already finished": go on and delete it.
    }
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
    this.processes.delete(id);
    this.oomWatches.delete(id);
    this.fifoReserves.delete(id);
    let ownContainer = false;
    try {
      ownContainer = (await findSessionContainer(this.client, id)).kind === "own";
      if (ownContainer) {
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
      // Local, so it goes even while containerd is unreachable (a start that failed for that
      // made only this); what is left in containerd carries the session's labels there.
      await this.directories.remove(id, ownContainer);
    }
  }

  private async taskState(id: string): Promise<SessionState> {
    try {
      const process = await this.client.getProcess(id);
      // stopSession deletes the task, so a stopped task that is still there died on its own.
      return process.status === "STOPPED" ? "failed" : "running";
    } catch (error) {
      if (isNotFound(error)) return "stopped";
      throw error;
    }
  }

  private async stateOf(id: string): Promise<SessionState | undefined> {
    if ((await findSessionContainer(this.client, id)).kind !== "own") return undefined;
    return this.taskState(id);
  }

  private async toSession(container: Container): Promise<BackendSession | undefined> {
    if (!isOwnSession(container.labels, container.id)) return undefined;
    return { labels: container.labels, state: await this.taskState(container.id) };
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

  async close(): Promise<void> {
    this.client.close();
  }
}
