import { createHmac, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  AgentRuntimeError,
  bindSession,
  CapabilityMismatchError,
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  doctorReport,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  type ProviderFiles,
  type ProviderProcesses,
  ProviderUnavailableError,
  type ReapOptions,
  type SessionFilter,
  type SessionHandle,
  type SessionInfo,
  type SessionOptions,
  type SessionStats,
  specificationVersion,
  type ValidatedPolicy,
  type WatchStatsOptions,
} from "@cadre/agent-runtime-contract";
import { canonicalJson } from "./canonical-json.js";
import { onProcessExit } from "./exit-hooks.js";
import { poolLabels, warmPolicy } from "./pool-labels.js";

export interface SessionPoolOptions {
  /** Warm sessions kept per policy. Default 2. */
  size?: number;
  /** Policies to warm at once, before anyone asks for them. */
  policies?: IsolationPolicy[];
  /**
   * A policy not yet warm is started cold; with this on (the default) the pool then keeps
   * `size` sessions of that policy warm too.
   */
  warmOnMiss?: boolean;
  /** Distinct policies kept warm; the least recently used one is dropped beyond. Default 4. */
  maxPolicies?: number;
  /** Warm sessions being created at once, across all policies. Default 2. */
  refillConcurrency?: number;
  /**
   * Before handing out a warm session, ask the provider that it is still running (one
   * getSession). Default true; a dead warm session is destroyed and the next one is tried.
   */
  verifyBeforeHandOut?: boolean;
  /** Destroy the warm sessions on beforeExit, SIGINT and SIGTERM. Default true. */
  exitHooks?: boolean;
  /** close() closes the provider too. Default true. */
  closeProvider?: boolean;
}

export interface SessionPoolStats {
  /** Sessions handed out from the warm inventory. */
  hits: number;
  /** Sessions started cold: no warm one of that policy, or a policy with ttlMs. */
  misses: number;
  /** Idle warm sessions now. */
  warm: number;
  /** Warm sessions being created now. */
  creating: number;
  /** Policies kept warm now. */
  policies: number;
  refills: number;
  refillErrors: number;
  /** The message of the last refill error, if any. */
  lastRefillError?: string;
}

export interface SessionPoolEvents {
  /** A warm session joined the inventory. */
  warm: [{ sessionId: string; key: string }];
  /** A warm session was handed out. */
  handout: [{ sessionId: string; key: string }];
  /** Creating a warm session failed; the pool retries later with a growing pause. */
  "refill-error": [{ error: unknown; key: string; consecutive: number }];
}

interface PoolEntry {
  key: string;
  policy: ValidatedPolicy;
  idle: string[];
  creating: number;
  failures: number;
  retryAt: number;
  dropped: boolean;
  /** Waiters of prewarm(): resolved when full, rejected on a refill error. */
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/** After this many refill failures in a row a policy is no longer refilled until asked for again. */
const maxConsecutiveFailures = 5;

/**
 * Keeps `size` started sessions per policy, so that startSession() hands one out without waiting
 * for the engine, and refills in the background. Implements IsolationProvider by delegating
 * everything else to the wrapped provider.
 *
 * - The key is an HMAC-SHA256, under a random key of this pool, of the canonical JSON of the
 *   validated policy, labels and env included: equal policies match, and the key (in events and
 *   in memory) says nothing of the env values, which are where tokens go. A warm session is
 *   created with the caller's labels (plus the pool's, see poolLabels), because labels are
 *   written at creation and the backend cannot change them at hand-out.
 * - A handed-out session is never taken back; destroySession goes to the provider. A warm session
 *   is never used before hand-out: exec on one removes it from the inventory first.
 * - Policies with ttlMs are never pooled: the TTL would start counting while the session idled.
 * - Warm sessions are owned by this process like any other, so after a crash reap() finds them.
 */
export class SessionPool extends EventEmitter<SessionPoolEvents> implements IsolationProvider {
  readonly specificationVersion = specificationVersion;
  readonly poolId = `pool-${randomBytes(6).toString("hex")}`;
  /** Keys the policy HMAC; never leaves this object. */
  private readonly keySecret = randomBytes(32);
  private readonly size: number;
  private readonly maxPolicies: number;
  private readonly refillConcurrency: number;
  private readonly warmOnMiss: boolean;
  private readonly verify: boolean;
  private readonly closeProvider: boolean;
  private readonly entries = new Map<string, PoolEntry>();
  private readonly pending = new Set<Promise<void>>();
  /** Sessions this pool created and gave away; other sessions with its label are its own. */
  private readonly handedOut = new Set<string>();
  private inFlight = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private reportPromise: Promise<CapabilityReport> | undefined;
  private removeExitHook: (() => void) | undefined;
  private readonly counters = { hits: 0, misses: 0, refills: 0, refillErrors: 0 };
  private lastRefillError: string | undefined;

  constructor(
    readonly provider: IsolationProvider,
    options: SessionPoolOptions = {},
  ) {
    super();
    this.size = positiveInteger(options.size ?? 2, "size");
    this.maxPolicies = positiveInteger(options.maxPolicies ?? 4, "maxPolicies");
    this.refillConcurrency = positiveInteger(options.refillConcurrency ?? 2, "refillConcurrency");
    this.warmOnMiss = options.warmOnMiss ?? true;
    this.verify = options.verifyBeforeHandOut ?? true;
    this.closeProvider = options.closeProvider ?? true;
    if (options.exitHooks ?? true) this.removeExitHook = onProcessExit(() => this.drain());
    for (const policy of options.policies ?? []) {
      this.prewarm(policy).catch(() => {
        // Surfaced as "refill-error" events and in stats(); never an unhandled rejection.
      });
    }
  }

  get id(): string {
    return this.provider.id;
  }

  capabilities(): Promise<CapabilityReport> {
    return this.provider.capabilities();
  }

  /**
   * Hands out a warm session of this policy when there is one, else starts one cold. The policy
   * is checked first (POLICY_INVALID, CAPABILITY_MISMATCH) exactly as the provider does.
   */
  async startSession(policy: IsolationPolicy, options: SessionOptions = {}): Promise<string> {
    this.assertOpen();
    const validated = checkPolicy(policy, await this.report());
    options.signal?.throwIfAborted();
    if (validated.ttlMs !== undefined) {
      this.counters.misses += 1;
      return this.provider.startSession(policy, options);
    }
    const key = this.policyKey(validated);
    const entry = this.entries.get(key);
    if (entry) {
      this.touch(entry);
      const id = await this.takeIdle(entry);
      if (id) {
        this.handedOut.add(id);
        this.counters.hits += 1;
        this.emit("handout", { sessionId: id, key });
        return id;
      }
    }
    this.counters.misses += 1;
    if (entry && entry.failures >= maxConsecutiveFailures) {
      // Asked for again after giving up: try refilling once more.
      entry.failures = 0;
      entry.retryAt = 0;
      this.pump();
    }
    const id = await this.provider.startSession(policy, options);
    // Looked up again: a concurrent miss of the same policy may have added it meanwhile.
    if (this.warmOnMiss && !this.closed && !this.entries.has(key)) this.addEntry(key, validated);
    return id;
  }

  /**
   * Keeps `size` sessions of this policy warm from now on; resolves once they are, rejects on
   * the first failure to create one (the pool keeps retrying in the background).
   */
  async prewarm(policy: IsolationPolicy): Promise<void> {
    this.assertOpen();
    const validated = checkPolicy(policy, await this.report());
    if (validated.ttlMs !== undefined) {
      throw new AgentRuntimeError(
        "POLICY_INVALID",
        "A policy with ttlMs cannot be pooled: its TTL would run while the session idles. Remove ttlMs, or start such sessions directly.",
        { providerId: this.id },
      );
    }
    const key = this.policyKey(validated);
    const entry = this.entries.get(key) ?? this.addEntry(key, validated);
    entry.failures = 0;
    entry.retryAt = 0;
    this.pump();
    if (entry.idle.length >= this.size) return;
    await new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  async exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    // Whoever found this id may use it; it is no longer one the pool can hand out as fresh.
    this.forget(sessionId);
    return this.provider.exec(sessionId, argv, options);
  }

  /** The provider's files; a session they touch is no longer one the pool hands out fresh. */
  get files(): ProviderFiles | undefined {
    return this.provider.files && this.forgetting(this.provider.files);
  }

  /** The provider's processes, likewise. */
  get processes(): ProviderProcesses | undefined {
    return this.provider.processes && this.forgetting(this.provider.processes);
  }

  sessionStats(sessionId: string): Promise<SessionStats> {
    if (!this.provider.sessionStats) return Promise.reject(noUsage(this.id));
    return this.provider.sessionStats(sessionId);
  }

  watchSessionStats(sessionId: string, options?: WatchStatsOptions): AsyncIterable<SessionStats> {
    if (!this.provider.watchSessionStats) throw noUsage(this.id);
    return this.provider.watchSessionStats(sessionId, options);
  }

  /** A warm session of this policy when there is one (startSession), as a handle. */
  async session(policy: IsolationPolicy, options?: SessionOptions): Promise<SessionHandle> {
    return bindSession(this, await this.startSession(policy, options));
  }

  stopSession(sessionId: string): Promise<void> {
    this.forget(sessionId);
    return this.provider.stopSession(sessionId);
  }

  async destroySession(sessionId: string): Promise<void> {
    this.forget(sessionId);
    await this.provider.destroySession(sessionId);
    this.handedOut.delete(sessionId);
  }

  /** `api` with every call taking its session out of the pool's hands first, as exec does. */
  private forgetting<Api extends object>(api: Api): Api {
    return new Proxy(api, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (sessionId: string, ...rest: unknown[]) => {
          this.forget(sessionId);
          return value.call(target, sessionId, ...rest);
        };
      },
    });
  }

  getSession(sessionId: string): Promise<SessionInfo> {
    return this.provider.getSession(sessionId);
  }

  /**
   * The provider's list (read from the backend), without this pool's own warm sessions: those
   * idle and those still being created.
   */
  async listSessions(filter?: SessionFilter): Promise<SessionInfo[]> {
    const listed = await this.provider.listSessions(filter);
    if (!filter?.labels) {
      // Forget hand-outs destroyed some other way (TTL, reap elsewhere), so the set stays small.
      const present = new Set(listed.map((s) => s.id));
      for (const id of this.handedOut) if (!present.has(id)) this.handedOut.delete(id);
    }
    return listed.filter((s) => !this.holdsSession(s));
  }

  /** Whether this session is one of the pool's own warm ones (idle or being created), not handed out. */
  holdsSession(session: SessionInfo): boolean {
    return session.labels[poolLabels.poolId] === this.poolId && !this.handedOut.has(session.id);
  }

  async reap(options?: ReapOptions): Promise<string[]> {
    const reaped = await this.provider.reap(options);
    for (const id of reaped) {
      this.dropIdle(id);
      this.handedOut.delete(id);
    }
    return reaped;
  }

  doctor(): Promise<DoctorReport> {
    if (this.provider.doctor) return this.provider.doctor();
    return Promise.resolve(doctorReport(this.id, []));
  }

  /** Destroys every warm session (waiting for those being created), then closes the provider. */
  async close(): Promise<void> {
    await this.drain();
    if (this.closeProvider) await this.provider.close?.();
  }

  /** Ids of the idle warm sessions, oldest first. */
  warmSessionIds(): string[] {
    return [...this.entries.values()].flatMap((e) => e.idle);
  }

  stats(): SessionPoolStats {
    const entries = [...this.entries.values()];
    const stats: SessionPoolStats = {
      ...this.counters,
      warm: entries.reduce((n, e) => n + e.idle.length, 0),
      creating: this.inFlight,
      policies: entries.length,
    };
    if (this.lastRefillError !== undefined) stats.lastRefillError = this.lastRefillError;
    return stats;
  }

  /** Stops refilling and destroys the warm sessions; the exit hooks call this. */
  private async drain(): Promise<void> {
    this.closed = true;
    this.removeExitHook?.();
    this.removeExitHook = undefined;
    clearTimeout(this.retryTimer);
    const ids = this.warmSessionIds();
    for (const entry of this.entries.values()) this.dropEntry(entry, false);
    this.entries.clear();
    await Promise.allSettled([
      ...ids.map((id) => this.provider.destroySession(id)),
      // Sessions still being created are destroyed as they land (their entry is dropped).
      ...this.pending,
    ]);
  }

  /** Equal for equal policies (an empty env or labels map is the same as none), opaque else. */
  private policyKey(policy: ValidatedPolicy): string {
    return createHmac("sha256", this.keySecret).update(canonicalPolicy(policy)).digest("hex");
  }

  private report(): Promise<CapabilityReport> {
    if (!this.reportPromise) {
      this.reportPromise = this.provider.capabilities().catch((error: unknown) => {
        this.reportPromise = undefined;
        throw error;
      });
    }
    return this.reportPromise;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new ProviderUnavailableError(
        "This session pool is closed. Create a new SessionPool (or provider) to start sessions.",
        { providerId: this.provider.id },
      );
    }
  }

  /** Takes the oldest idle session that is still running; destroys dead ones on the way. */
  private async takeIdle(entry: PoolEntry): Promise<string | undefined> {
    for (let id = entry.idle.shift(); id !== undefined; id = entry.idle.shift()) {
      this.pump();
      if (!this.verify || (await this.isRunning(id))) return id;
      this.destroyQuietly(id);
    }
    this.pump();
    return undefined;
  }

  private async isRunning(id: string): Promise<boolean> {
    try {
      return (await this.provider.getSession(id)).state === "running";
    } catch {
      return false;
    }
  }

  private addEntry(key: string, policy: ValidatedPolicy): PoolEntry {
    const entry: PoolEntry = {
      key,
      policy,
      idle: [],
      creating: 0,
      failures: 0,
      retryAt: 0,
      dropped: false,
      waiters: [],
    };
    this.entries.set(key, entry);
    while (this.entries.size > this.maxPolicies) {
      const oldest = this.entries.values().next().value as PoolEntry;
      this.entries.delete(oldest.key);
      this.dropEntry(oldest, true);
    }
    this.pump();
    return entry;
  }

  /** Most recently used last, so that the first entry is the one to drop. */
  private touch(entry: PoolEntry): void {
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
  }

  private dropEntry(entry: PoolEntry, destroyIdle: boolean): void {
    entry.dropped = true;
    const idle = entry.idle.splice(0);
    if (destroyIdle) for (const id of idle) this.destroyQuietly(id);
    const closedError = new ProviderUnavailableError(
      "The session pool stopped keeping this policy warm (closed, or more policies than maxPolicies).",
      { providerId: this.provider.id },
    );
    for (const waiter of entry.waiters.splice(0)) waiter.reject(closedError);
  }

  /** An idle session somebody else touches is no longer one the pool may hand out. */
  private forget(sessionId: string): void {
    if (this.dropIdle(sessionId)) this.handedOut.add(sessionId);
  }

  private dropIdle(sessionId: string): boolean {
    for (const entry of this.entries.values()) {
      const index = entry.idle.indexOf(sessionId);
      if (index !== -1) {
        entry.idle.splice(index, 1);
        this.pump();
        return true;
      }
    }
    return false;
  }

  /** Starts warm-session creations while there is room, neediest policy first. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    while (this.inFlight < this.refillConcurrency) {
      let neediest: PoolEntry | undefined;
      for (const entry of this.entries.values()) {
        const missing = this.size - entry.idle.length - entry.creating;
        if (missing <= 0 || entry.failures >= maxConsecutiveFailures) continue;
        if (entry.retryAt > now) {
          nextRetry = Math.min(nextRetry, entry.retryAt);
          continue;
        }
        if (
          !neediest ||
          entry.idle.length + entry.creating < neediest.idle.length + neediest.creating
        )
          neediest = entry;
      }
      if (!neediest) break;
      this.createWarm(neediest);
    }
    if (Number.isFinite(nextRetry)) this.scheduleRetry(nextRetry - now);
  }

  private scheduleRetry(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.pump(), Math.max(delayMs, 1));
    this.retryTimer.unref();
  }

  private createWarm(entry: PoolEntry): void {
    entry.creating += 1;
    this.inFlight += 1;
    const task = this.provider
      .startSession(warmPolicy(entry.policy, this.poolId))
      .then(
        (id) => this.landed(entry, id),
        (error: unknown) => this.failed(entry, error),
      )
      // A throwing event listener must not become an unhandled rejection.
      .catch(() => undefined)
      .finally(() => {
        entry.creating -= 1;
        this.inFlight -= 1;
        this.pending.delete(task);
        this.pump();
      });
    this.pending.add(task);
  }

  private async landed(entry: PoolEntry, id: string): Promise<void> {
    if (entry.dropped || this.closed) {
      await this.provider.destroySession(id).catch(() => undefined);
      return;
    }
    entry.failures = 0;
    entry.idle.push(id);
    this.counters.refills += 1;
    this.emit("warm", { sessionId: id, key: entry.key });
    if (entry.idle.length >= this.size) {
      for (const waiter of entry.waiters.splice(0)) waiter.resolve();
    }
  }

  private failed(entry: PoolEntry, error: unknown): void {
    entry.failures += 1;
    entry.retryAt = Date.now() + Math.min(100 * 2 ** entry.failures, 30_000);
    this.counters.refillErrors += 1;
    this.lastRefillError = error instanceof Error ? error.message : String(error);
    for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
    // Listeners are optional: an EventEmitter only throws for unheard "error" events.
    this.emit("refill-error", { error, key: entry.key, consecutive: entry.failures });
  }

  private destroyQuietly(id: string): void {
    const task = this.provider
      .destroySession(id)
      .catch(() => undefined)
      .finally(() => this.pending.delete(task));
    this.pending.add(task);
  }
}

/** Canonical JSON of the policy; an empty env or labels map is the same as none. */
function canonicalPolicy(policy: ValidatedPolicy): string {
  const normal: Record<string, unknown> = { ...policy };
  for (const field of ["env", "labels"] as const) {
    const map = policy[field];
    if (map && Object.keys(map).length === 0) delete normal[field];
  }
  return canonicalJson(normal);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`SessionPool option ${name} must be a positive integer, not ${value}`);
  }
  return value;
}

function noUsage(providerId: string): CapabilityMismatchError {
  return new CapabilityMismatchError(
    { "features.usage": `provider "${providerId}" reads no usage` },
    { providerId },
  );
}
