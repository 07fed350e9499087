import {
  bindSession,
  CapabilityMismatchError,
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  isSessionId,
  type ProviderFiles,
  type ProviderProcesses,
  parseExecRequest,
  parseWatchStatsOptions,
  type ReapOptions,
  type SessionFilter,
  type SessionHandle,
  type SessionInfo,
  SessionNotFoundError,
  SessionNotRunningError,
  type SessionOptions,
  type SessionStats,
  sessionLabels,
  specificationVersion,
  type ValidatedPolicy,
  type WatchStatsOptions,
} from "@cadre/agent-runtime-contract";
import { LifecycleFiles } from "../files/lifecycle-files.js";
import { LifecycleProcesses } from "../processes/lifecycle-processes.js";
import {
  buildSessionLabels,
  isExpired,
  isReapable,
  matchesLabels,
  newSessionId,
  sessionInfoFromLabels,
} from "../session-labels.js";
import { traced } from "../tracing/spans.js";
import { TtlTimers } from "../ttl-timers.js";
import { parseReapOptions, parseSessionFilter, parseSessionOptions } from "./lifecycle-input.js";
import type { BackendSession, SessionBackend } from "./session-backend.js";

/** How many sessions reap() destroys at once. */
const reapConcurrency = 8;

/**
 * The contract's methods, written once for every provider over its SessionBackend: input
 * validation, checkPolicy, session ids, labels and owner identity, TTL timers, getSession,
 * listSessions with filters, and reap with its rules. A provider class extends it with its
 * backend and adds only what is its own (an image import, a runtime name).
 */
export class SessionLifecycle implements IsolationProvider {
  readonly specificationVersion = specificationVersion;
  readonly id: string;
  private readonly ttl: TtlTimers;
  /** Expiry (epoch ms) of the sessions this instance started with a TTL: exec's check costs no call. */
  private readonly expiries = new Map<string, number>();
  /** TTL destroys in flight: close() waits for them, so none is cut off by a closed backend. */
  private readonly expiring = new Set<Promise<void>>();
  private readonly destroying = new Map<string, Promise<void>>();
  /** Files in a session's sandbox, where the backend reaches its agent (else CAPABILITY_MISMATCH). */
  readonly files: ProviderFiles;
  /** Processes in a session's sandbox, where the backend reaches its agent (else CAPABILITY_MISMATCH). */
  readonly processes: ProviderProcesses;

  constructor(protected readonly backend: SessionBackend) {
    this.id = backend.providerId;
    this.ttl = new TtlTimers((id) => this.expire(id), this.id);
    const host = {
      providerId: this.id,
      sessionId: (id: unknown) => this.liveId(id),
      withAgent: backend.withAgent?.bind(backend),
    };
    this.files = new LifecycleFiles(host);
    this.processes = new LifecycleProcesses(host);
  }

  capabilities(): Promise<CapabilityReport> {
    return this.backend.capabilities();
  }

  async startSession(input: IsolationPolicy, options?: SessionOptions): Promise<string> {
    return traced("cadre.session.start", { "cadre.provider": this.id }, async (span) => {
      const id = await this.start(input, options);
      span.set({ "cadre.session_id": id, ...this.isolationAttribute() });
      return id;
    });
  }

  private async start(input: IsolationPolicy, options?: SessionOptions): Promise<string> {
    const { signal } = parseSessionOptions(options, this.id);
    const policy = await this.checkedPolicy(input);
    await this.backend.ensureReady?.();
    signal?.throwIfAborted();

    const id = newSessionId();
    const labels = buildSessionLabels({ sessionId: id, providerId: this.id, policy });
    const created = this.backend.create({ id, policy, labels, ...(signal ? { signal } : {}) });
    await this.untilCreated(id, created, signal);
    if (policy.ttlMs !== undefined) {
      // From the created-at label, as reap() and listings count it.
      const expiresAt = Date.parse(labels[sessionLabels.createdAt]!) + policy.ttlMs;
      this.expiries.set(id, expiresAt);
      this.ttl.schedule(id, expiresAt);
    }
    return id;
  }

  async session(policy: IsolationPolicy, options?: SessionOptions): Promise<SessionHandle> {
    return bindSession(this, await this.startSession(policy, options));
  }

  async exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const request = parseExecRequest(argv, options, this.id);
    const id = this.liveId(sessionId);
    // argv[0] only: an argument is where a token may be.
    const attributes = {
      "cadre.provider": this.id,
      "cadre.session_id": id,
      "cadre.command": request.argv[0] ?? "",
    };
    return traced("cadre.exec", attributes, async (span) => {
      if (span.recording) {
        const stdin = request.options.stdin;
        const bytesIn =
          stdin === undefined
            ? 0
            : typeof stdin === "string"
              ? Buffer.byteLength(stdin)
              : stdin.length;
        span.set({ "cadre.bytes_in": bytesIn, ...(await this.isolationAttributeNow()) });
      }
      try {
        const result = await this.backend.exec(id, request);
        span.set({
          "cadre.end_cause": result.cause.kind,
          "cadre.exit_code": result.exitCode,
          "cadre.bytes_out": Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr),
        });
        return result;
      } catch (error) {
        if (request.options.signal?.aborted) span.set({ "cadre.end_cause": "aborted" });
        throw error;
      }
    });
  }

  async sessionStats(sessionId: string): Promise<SessionStats> {
    const id = this.liveId(sessionId);
    if (!this.backend.usage) {
      throw new CapabilityMismatchError(
        {
          "features.usage": "this provider reads no usage (capabilities().features.usage is false)",
        },
        { providerId: this.id },
      );
    }
    const usage = await this.backend.usage(id);
    return { sessionId: id, at: new Date().toISOString(), ...usage };
  }

  /** Readings every intervalMs; the stream ends when the session does, or the signal aborts. */
  async *watchSessionStats(
    sessionId: string,
    options?: WatchStatsOptions,
  ): AsyncGenerator<SessionStats> {
    const { intervalMs, signal } = parseWatchStatsOptions(options, this.id);
    const id = this.liveId(sessionId);
    while (!signal?.aborted) {
      let stats: SessionStats;
      try {
        stats = await this.sessionStats(id);
      } catch (error) {
        if (SessionNotFoundError.isInstance(error) || SessionNotRunningError.isInstance(error))
          return;
        throw error;
      }
      yield stats;
      await sleepUnlessAborted(intervalMs, signal);
    }
  }

  async stopSession(sessionId: string): Promise<void> {
    await this.backend.stop(this.wellFormedId(sessionId));
  }

  async destroySession(sessionId: string): Promise<void> {
    await this.end(this.wellFormedId(sessionId), "destroyed");
  }

  /** Destroys a session for a reason: its owner's call, its TTL, or a reap. */
  private end(id: string, why: "destroyed" | "ttl" | "reaped"): Promise<void> {
    const attributes = {
      "cadre.provider": this.id,
      "cadre.session_id": id,
      "cadre.end_cause": why,
    };
    return traced("cadre.session.destroy", attributes, () => this.destroy(id));
  }

  private async destroy(id: string): Promise<void> {
    // One destroy per session at a time (a caller's and its TTL's): two would race each other's
    // removals in the engine, and the loser would fail on objects the winner just deleted.
    const inFlight = this.destroying.get(id);
    if (inFlight) return inFlight;
    this.ttl.cancel(id);
    const destroyed = this.backend.destroy(id).then(() => {
      this.expiries.delete(id);
    });
    this.destroying.set(id, destroyed);
    try {
      await destroyed;
    } finally {
      this.destroying.delete(id);
    }
  }

  async getSession(sessionId: string): Promise<SessionInfo> {
    const id = this.wellFormedId(sessionId);
    const found = await this.backend.find(id);
    const info = found && this.ownInfo(found);
    if (!info || info.id !== id || isExpired(info, Date.now())) {
      throw new SessionNotFoundError(id, { providerId: this.id });
    }
    return info;
  }

  async listSessions(filter?: SessionFilter): Promise<SessionInfo[]> {
    const { labels } = parseSessionFilter(filter, this.id);
    const now = Date.now();
    return (await this.allSessions(labels)).filter(
      (info) => !isExpired(info, now) && matchesLabels(info, labels),
    );
  }

  async reap(options?: ReapOptions): Promise<string[]> {
    const { olderThanMs } = parseReapOptions(options, this.id);
    const now = Date.now();
    const doomed = (await this.allSessions()).filter((info) => isReapable(info, now, olderThanMs));
    await forEachLimited(doomed, reapConcurrency, (info) => this.end(info.id, "reaped"));
    return doomed.map((info) => info.id);
  }

  doctor(): Promise<DoctorReport> {
    return this.backend.doctor();
  }

  /** Cancels TTL timers, waits for TTL destroys in flight, and releases the backend; sessions stay. */
  async close(): Promise<void> {
    this.ttl.cancelAll();
    await Promise.allSettled(this.expiring);
    await this.backend.close?.();
  }

  private expire(id: string): Promise<void> {
    const destroyed = this.end(id, "ttl");
    this.expiring.add(destroyed);
    const forget = () => this.expiring.delete(destroyed);
    destroyed.then(forget, forget);
    return destroyed;
  }

  /** Schema, then capabilities; bad input is reported as such even while the engine is down. */
  private async checkedPolicy(input: IsolationPolicy): Promise<ValidatedPolicy> {
    let report: CapabilityReport;
    try {
      report = await this.backend.capabilities();
    } catch (error) {
      const offline = this.backend.offlineCapabilities?.();
      if (offline) checkPolicy(input, offline);
      throw error;
    }
    this.isolation = report.isolation;
    return checkPolicy(input, report);
  }

  /** The isolation level of this instance's sessions, for traces; once known. */
  private isolation: string | undefined;

  private isolationAttribute(): Record<string, string> {
    return this.isolation ? { "cadre.isolation": this.isolation } : {};
  }

  /** The same, read from the backend when no start has told it yet (traced calls only). */
  private async isolationAttributeNow(): Promise<Record<string, string>> {
    if (!this.isolation) {
      this.isolation = await this.backend.capabilities().then(
        (report) => report.isolation,
        () => undefined,
      );
    }
    return this.isolationAttribute();
  }

  /**
   * Awaits the start. When the signal aborts first, rejects with its reason once what the start
   * made is removed; nothing stays attached to the caller's signal.
   */
  private async untilCreated(
    id: string,
    created: Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      await (signal ? Promise.race([created, aborted]) : created);
      signal?.throwIfAborted();
    } catch (error) {
      if (!signal?.aborted) throw error;
      await created.catch(() => {});
      await this.backend.destroy(id).catch(() => {});
      throw signal.reason;
    } finally {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** A well-formed id of a session whose TTL, as far as this instance knows, has not run out. */
  private liveId(sessionId: unknown): string {
    const id = this.wellFormedId(sessionId);
    // Gone for callers once its TTL ran out, even before the timer has removed it.
    if ((this.expiries.get(id) ?? Number.POSITIVE_INFINITY) <= Date.now()) {
      throw new SessionNotFoundError(id, { providerId: this.id });
    }
    return id;
  }

  private wellFormedId(sessionId: unknown): string {
    if (isSessionId(sessionId)) return sessionId;
    throw new SessionNotFoundError(sessionId, { providerId: this.id });
  }

  /** A backend record as a session of this provider, when its labels make it one. */
  private ownInfo(found: BackendSession): SessionInfo | undefined {
    const info = sessionInfoFromLabels(found.labels, found.state);
    return info?.providerId === this.id ? info : undefined;
  }

  private async allSessions(labels?: Record<string, string>): Promise<SessionInfo[]> {
    const found = await this.backend.list(labels);
    return found.map((f) => this.ownInfo(f)).filter((info) => info !== undefined);
  }
}

/** Waits `ms`, or less when `signal` aborts meanwhile. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Runs `step` over `items`, at most `limit` at a time; rejects with the first error once all settled. */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  step: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await step(item).catch((error: unknown) => errors.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
