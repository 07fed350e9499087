import {
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  doctorReport,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  isSessionId,
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
} from "@cadre/agent-runtime-contract";
import {
  buildSessionLabels,
  isReapable,
  matchesLabels,
  newSessionId,
  sessionInfoFromLabels,
  TtlTimers,
} from "@cadre/agent-runtime-provider-utils";
import { isSessionBackend, type KataAdapter, type SessionBackend } from "./adapter.js";
import { kataCapabilityRows, providerId } from "./capabilities.js";
import type { ImportedImage } from "./containerd/import-archive.js";
import { ContainerdKataAdapter } from "./containerd-adapter.js";
import type { KataProviderOptions } from "./options.js";

function isAdapter(value: unknown): value is KataAdapter {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as KataAdapter).createSandbox === "function"
  );
}

/**
 * Kata Containers through containerd: a micro-VM per session. `new KataProvider()` and
 * `new KataProvider(options)` use containerd and fail closed (PROVIDER_UNAVAILABLE with the
 * failed doctor checks) on a host that cannot run Kata. `new KataProvider(adapter)` delegates to
 * the given adapter, e.g. the no-op StubKataAdapter for unit tests.
 */
export class KataProvider implements IsolationProvider {
  readonly specificationVersion = specificationVersion;
  readonly id = providerId;
  readonly adapter: KataAdapter;
  /** Sessions of a plain adapter, which cannot list them itself. */
  private readonly remembered = new Map<
    string,
    { labels: Record<string, string>; stopped: boolean }
  >();
  private readonly ttlTimers = new TtlTimers((id) => this.destroySession(id), providerId);
  private ready: Promise<void> | undefined;

  constructor(adapterOrOptions?: KataAdapter | KataProviderOptions) {
    this.adapter = isAdapter(adapterOrOptions)
      ? adapterOrOptions
      : new ContainerdKataAdapter(adapterOrOptions ?? {});
  }

  private get backend(): SessionBackend | undefined {
    return isSessionBackend(this.adapter) ? this.adapter : undefined;
  }

  async capabilities(): Promise<CapabilityReport> {
    if (this.adapter.capabilities) return this.adapter.capabilities();
    return kataCapabilityRows[0] as CapabilityReport;
  }

  async doctor(): Promise<DoctorReport> {
    if (this.adapter.doctor) return this.adapter.doctor();
    return doctorReport(providerId, [
      {
        id: "kata.adapter",
        title: "custom adapter",
        ok: true,
        required: false,
        detail: "checks are the adapter's own",
      },
    ]);
  }

  /** Fails closed when a required doctor check fails; a passing host is checked once. */
  private ensureReady(): Promise<void> {
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

  async startSession(input: IsolationPolicy, options: SessionOptions = {}): Promise<string> {
    const policy = checkPolicy(input, await this.capabilities());
    await this.ensureReady();
    options.signal?.throwIfAborted();
    const id = newSessionId();
    const labels = buildSessionLabels({ sessionId: id, providerId, policy });
    const created = this.adapter.createSandbox(id, { ...policy, sessionLabels: labels });
    if (options.signal) await this.untilCreatedOrAborted(id, created, options.signal);
    else await created;
    if (!this.backend) this.remembered.set(id, { labels, stopped: false });
    if (policy.ttlMs !== undefined) {
      // From the created-at label, as reap() counts it.
      this.ttlTimers.schedule(id, Date.parse(labels[sessionLabels.createdAt]!) + policy.ttlMs);
    }
    return id;
  }

  /** Awaits the start; on abort, rejects with the reason once what it created is removed. */
  private async untilCreatedOrAborted(
    id: string,
    created: Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([created, aborted]);
    } catch (error) {
      // Whatever the start created is removed once it settles.
      await created.catch(() => {});
      await this.adapter.destroySandbox(id).catch(() => {});
      throw error;
    } finally {
      // The caller's signal may live long after this start: nothing of it stays attached.
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  async exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const request = parseExecRequest(argv, options, providerId);
    if (!isSessionId(sessionId)) throw new SessionNotFoundError(sessionId, { providerId });
    if (this.backend) return this.backend.execInSandbox(sessionId, request.argv, request);
    const known = this.remembered.get(sessionId);
    if (!known) throw new SessionNotFoundError(sessionId, { providerId });
    if (known.stopped) throw new SessionNotRunningError(sessionId, "stopped", { providerId });
    const started = Date.now();
    const result = await this.adapter.execInSandbox(sessionId, request.argv, request);
    return { timedOut: false, truncated: false, durationMs: Date.now() - started, ...result };
  }

  async stopSession(sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return;
    await this.adapter.stopSandbox(sessionId);
    const known = this.remembered.get(sessionId);
    if (known) known.stopped = true;
  }

  async destroySession(sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return;
    this.ttlTimers.cancel(sessionId);
    await this.adapter.destroySandbox(sessionId);
    this.remembered.delete(sessionId);
  }

  async getSession(sessionId: string): Promise<SessionInfo> {
    const info = isSessionId(sessionId) ? await this.lookup(sessionId) : undefined;
    if (!info) throw new SessionNotFoundError(sessionId, { providerId });
    return info;
  }

  private async lookup(sessionId: string): Promise<SessionInfo | undefined> {
    if (this.backend) return this.backend.getSandbox(sessionId);
    const known = this.remembered.get(sessionId);
    return known && sessionInfoFromLabels(known.labels, known.stopped ? "stopped" : "running");
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionInfo[]> {
    const all = this.backend
      ? await this.backend.listSandboxes()
      : [...this.remembered.values()]
          .map((s) => sessionInfoFromLabels(s.labels, s.stopped ? "stopped" : "running"))
          .filter((i): i is SessionInfo => i !== undefined);
    return all.filter((info) => matchesLabels(info, filter.labels));
  }

  async reap(options: ReapOptions = {}): Promise<string[]> {
    const now = Date.now();
    const reaped: string[] = [];
    for (const info of await this.listSessions()) {
      if (!isReapable(info, now, options.olderThanMs)) continue;
      await this.destroySession(info.id);
      reaped.push(info.id);
    }
    return reaped;
  }

  /**
   * Loads a `docker save` or OCI image archive into the provider's containerd namespace and
   * unpacks it, so sessions can use it without a registry. Returns the image names.
   */
  async importImage(tarball: string, options: { name?: string } = {}): Promise<string[]> {
    if (!(this.adapter instanceof ContainerdKataAdapter)) {
      throw new ProviderUnavailableError(
        "importImage needs the containerd adapter; this provider uses a custom one.",
        {
          providerId,
        },
      );
    }
    const images: ImportedImage[] = await this.adapter.importImage(tarball, options);
    return images.map((i) => i.name);
  }

  async close(): Promise<void> {
    this.ttlTimers.cancelAll();
    await this.adapter.close?.();
  }
}

/** The loader's entry point. */
export function createKataProvider(options: KataProviderOptions = {}): KataProvider {
  return new KataProvider(options);
}
