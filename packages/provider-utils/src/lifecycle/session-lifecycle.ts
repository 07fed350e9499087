import { randomBytes } from "node:crypto";
import {
  bindSession,
  CapabilityMismatchError,
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  defaultSessionEndRetentionMs,
  type EventsOptions,
  type ExecEndCause,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  isSessionId,
  type ProviderFiles,
  type ProviderProcesses,
  parseEventsOptions,
  parseExecRequest,
  parseWatchStatsOptions,
  type ReapOptions,
  type SessionEnd,
  type SessionEndCause,
  type SessionEvent,
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
import { EventHub } from "../events/event-hub.js";
import { type SessionEventSource, SessionEventStream } from "../events/session-event-stream.js";
import { LifecycleFiles } from "../files/lifecycle-files.js";
import { LifecycleProcesses } from "../processes/lifecycle-processes.js";
import {
  buildSessionLabels,
  isExpired,
  matchesLabels,
  newSessionId,
  reapReason,
  sessionInfoFromLabels,
} from "../session-labels.js";
import { traced } from "../tracing/spans.js";
import { TtlTimers } from "../ttl-timers.js";
import { parseReapOptions, parseSessionFilter, parseSessionOptions } from "./lifecycle-input.js";
import type { BackendSession, SessionBackend } from "./session-backend.js";
import { SessionEndBook } from "./session-end-book.js";
import { endOfExit, type ReapReason, type SandboxExit } from "./session-ends.js";

/** What a lifecycle takes beyond its backend: the provider options every provider shares. */
export interface LifecycleConfig {
  /** How long a removed session's end is kept for getSession (default an hour; 0: not at all). */
  sessionEndRetentionMs?: number;
}

/** How often events() reads the backend of a provider whose engine has no event stream. */
const eventsPollIntervalMs = 1_000;

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
  private readonly hub = new EventHub();
  private readonly streams = new Set<SessionEventStream>();
  private readonly ends: SessionEndBook;

  constructor(
    protected readonly backend: SessionBackend,
    config: LifecycleConfig = {},
  ) {
    this.id = backend.providerId;
    this.ends = new SessionEndBook(
      backend.endRecords,
      config.sessionEndRetentionMs ?? defaultSessionEndRetentionMs,
      this.id,
    );
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
    this.emit({ type: "session.started", sessionId: id, at: new Date().toISOString() });
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
      const told = this.tellExecStarted(id, attributes["cadre.command"]);
      try {
        const result = await this.backend.exec(id, request);
        span.set({
          "cadre.end_cause": result.cause.kind,
          "cadre.exit_code": result.exitCode,
          "cadre.bytes_out": Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr),
        });
        told?.ended(result.cause, result.exitCode);
        return result;
      } catch (error) {
        const aborted = request.options.signal?.aborted === true;
        if (aborted) span.set({ "cadre.end_cause": "aborted" });
        told?.ended({ kind: aborted ? "aborted" : execFailureKind(error) });
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
    const id = this.wellFormedId(sessionId);
    const found = await this.backend.find(id);
    const running = found?.state === "running" && this.ownInfo(found)?.id === id;
    const end: SessionEnd = {
      cause: { kind: "stopped", by: "owner" },
      at: new Date().toISOString(),
    };
    // Written first: the engine's event of the stop then reads its cause.
    if (running) await this.ends.write(found, id, end);
    await this.backend.stop(id);
    if (running) this.emit({ type: "session.ended", sessionId: id, ...endFields(end) });
  }

  async destroySession(sessionId: string): Promise<void> {
    await this.end(this.wellFormedId(sessionId), { kind: "destroyed", by: "owner" });
  }

  /** Destroys a session for a reason: its owner's call, its TTL, or a reap (and why). */
  private end(id: string, cause: SessionEndCause, reaped?: ReapReason): Promise<void> {
    const attributes = {
      "cadre.provider": this.id,
      "cadre.session_id": id,
      "cadre.end_cause": reaped ? "reaped" : cause.kind === "ttl" ? "ttl" : "destroyed",
    };
    return traced("cadre.session.destroy", attributes, () => this.destroy(id, cause, reaped));
  }

  private async destroy(id: string, cause: SessionEndCause, reaped?: ReapReason): Promise<void> {
    // One destroy per session at a time (a caller's and its TTL's): two would race each other's
    // removals in the engine, and the loser would fail on objects the winner just deleted.
    const inFlight = this.destroying.get(id);
    if (inFlight) return inFlight;
    this.ttl.cancel(id);
    const destroyed = this.removeWithRecord(id, cause, reaped).then(() => {
      this.expiries.delete(id);
    });
    this.destroying.set(id, destroyed);
    try {
      await destroyed;
    } finally {
      this.destroying.delete(id);
    }
  }

  /**
   * Writes how the session ended, then removes it. The first end wins: one that had stopped
   * already keeps its own; one that ran ends for `cause` now.
   */
  private async removeWithRecord(
    id: string,
    cause: SessionEndCause,
    reaped?: ReapReason,
  ): Promise<void> {
    const found = await this.backend.find(id);
    const info = found && this.ownInfo(found);
    if (!found || info?.id !== id) {
      await this.backend.destroy(id);
      return;
    }
    const running = found.state === "running";
    const ttl = ttlOf(info);
    const now: SessionEnd = {
      cause: cause.kind === "ttl" && ttl !== undefined ? { ...cause, limit: ttl } : cause,
      at: new Date().toISOString(),
    };
    const end = (running ? undefined : await this.ends.endOfStopped(id, found, info)) ?? now;
    await this.ends.write(found, id, end, reaped);
    if (running) this.emit({ type: "session.ended", sessionId: id, ...endFields(end) });
    await this.backend.destroy(id);
    await this.ends.removed(id);
    if (reaped)
      this.emit({
        type: "session.reaped",
        sessionId: id,
        at: new Date().toISOString(),
        reason: reaped,
      });
  }

  async getSession(sessionId: string): Promise<SessionInfo> {
    const id = this.wellFormedId(sessionId);
    const info = await this.sessionOrEnd(id);
    if (!info) throw new SessionNotFoundError(id, { providerId: this.id });
    return info;
  }

  /** The session as getSession tells it (an ended one included), or undefined. */
  private async sessionOrEnd(id: string): Promise<SessionInfo | undefined> {
    const found = await this.backend.find(id);
    const info = found && this.ownInfo(found);
    if (!found || info?.id !== id) return this.ends.endedInfo(id);
    if (isExpired(info, Date.now())) return expiredInfo(info);
    if (info.state === "running") return info;
    const end = await this.ends.endOfStopped(id, found, info);
    return end ? { ...info, end } : info;
  }

  async listSessions(filter?: SessionFilter): Promise<SessionInfo[]> {
    const { labels, includeEnded } = parseSessionFilter(filter, this.id);
    const now = Date.now();
    const all = (await this.allSessions(labels)).filter((info) => matchesLabels(info, labels));
    const live = all.filter((info) => !isExpired(info, now));
    if (live.some((info) => info.state !== "running")) {
      const ends = await this.ends.endsById();
      for (const [index, info] of live.entries()) {
        const end = info.state === "running" ? undefined : ends.get(info.id);
        if (end) live[index] = { ...info, end };
      }
    }
    if (!includeEnded) return live;
    const present = new Set(all.map((info) => info.id));
    const removed = (await this.ends.endedInfos(labels)).filter(
      (info) => !present.has(info.id) && matchesLabels(info, labels),
    );
    return [...live, ...all.filter((info) => isExpired(info, now)).map(expiredInfo), ...removed];
  }

  async reap(options?: ReapOptions): Promise<string[]> {
    const { olderThanMs, endedOlderThanMs, labels } = parseReapOptions(options, this.id);
    const now = Date.now();
    const sessions = (await this.allSessions(labels)).filter((info) => matchesLabels(info, labels));
    const doomed = sessions.flatMap((info) => {
      const reason = reapReason(info, now, olderThanMs);
      return reason ? [{ info, reason }] : [];
    });
    await forEachLimited(doomed, reapConcurrency, ({ info, reason }) =>
      this.end(info.id, reapCause(info, reason, olderThanMs), reason),
    );
    const remaining = new Set(sessions.map((info) => info.id));
    for (const { info } of doomed) remaining.delete(info.id);
    await this.ends.prune(remaining, labels, endedOlderThanMs);
    return doomed.map(({ info }) => info.id);
  }

  /**
   * What happens to this provider's sessions from now on (see IsolationProvider.events): the
   * engine's event stream where the backend has one, else the backend read every second, with
   * this instance's own starts, execs and ends as they happen.
   */
  events(options?: EventsOptions): AsyncIterable<SessionEvent> {
    const parsed = parseEventsOptions(options, this.id);
    const stream = new SessionEventStream(this.eventSource(), parsed);
    this.streams.add(stream);
    const streams = this.streams;
    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield* stream.events();
        } finally {
          streams.delete(stream);
        }
      },
    };
  }

  private eventSource(): SessionEventSource {
    const backend = this.backend;
    return {
      providerId: this.id,
      hub: this.hub,
      pollIntervalMs: eventsPollIntervalMs,
      sessions: () => this.allSessions(),
      session: (id) => this.sessionOrEnd(id),
      endOf: (id, exit) => this.endOf(id, exit),
      reapReason: (id) => this.ends.reapReason(id),
      keepEnd: async (id, end) => {
        const found = await backend.find(id);
        if (found && this.ownInfo(found)?.id === id) await this.ends.write(found, id, end);
      },
      ...(backend.engineEvents ? { engineEvents: backend.engineEvents.bind(backend) } : {}),
    };
  }

  /** Why a session ended, for events: its record, else its exit, else removed from outside. */
  private async endOf(id: string, exit?: SandboxExit): Promise<SessionEnd> {
    const info = await this.sessionOrEnd(id);
    if (info?.end && info.state !== "running") return info.end;
    if (exit) return endOfExit(exit, info ?? { policy: {} });
    return {
      cause: info ? { kind: "stopped", by: "outside" } : { kind: "destroyed", by: "outside" },
      at: new Date().toISOString(),
    };
  }

  private async engineTellsOomKills(): Promise<boolean> {
    if (!this.backend.engineEvents) return false;
    return (await this.backend.engineTellsOomKills?.().catch(() => true)) ?? true;
  }

  private emit(event: SessionEvent): void {
    if (this.hub.listening) this.hub.emit(event);
  }

  /** exec.started now, and the call that tells exec.ended; undefined when nobody listens. */
  private tellExecStarted(sessionId: string, command: string) {
    if (!this.hub.listening) return undefined;
    const execId = randomBytes(6).toString("hex");
    this.emit({ type: "exec.started", sessionId, execId, command, at: new Date().toISOString() });
    return {
      ended: (cause: ExecEndCause, exitCode?: number) => {
        const at = new Date().toISOString();
        this.emit({
          type: "exec.ended",
          sessionId,
          execId,
          command,
          at,
          cause,
          ...(exitCode !== undefined ? { exitCode } : {}),
        });
        if (cause.kind !== "pids" && cause.kind !== "memory") return;
        const hit = {
          type: "limit.hit" as const,
          sessionId,
          at,
          resource: cause.kind,
          ...(cause.limit !== undefined ? { limit: cause.limit } : {}),
          ...(cause.value !== undefined ? { value: cause.value } : {}),
        };
        // A memory kill comes from the engine's stream where it tells them; a refused fork never.
        if (cause.kind === "pids") this.emit(hit);
        else void this.engineTellsOomKills().then((told) => told || this.emit(hit));
      },
    };
  }

  doctor(): Promise<DoctorReport> {
    return this.backend.doctor();
  }

  /** Cancels TTL timers, waits for TTL destroys in flight, and releases the backend; sessions stay. */
  async close(): Promise<void> {
    for (const stream of this.streams) stream.close();
    this.ttl.cancelAll();
    await Promise.allSettled(this.expiring);
    await this.backend.close?.();
  }

  private expire(id: string): Promise<void> {
    const destroyed = this.end(id, { kind: "ttl" });
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

/** A session whose TTL ran out, as callers see it before anything removed it. */
function expiredInfo(info: SessionInfo): SessionInfo {
  const ttl = ttlOf(info);
  return {
    ...info,
    state: "ended",
    end: {
      cause: { kind: "ttl", ...(ttl !== undefined ? { limit: ttl } : {}) },
      at: info.expiresAt!,
    },
  };
}

function ttlOf(info: SessionInfo): number | undefined {
  return info.expiresAt ? Date.parse(info.expiresAt) - Date.parse(info.createdAt) : undefined;
}

/** The end cause of a session reap() removes, for its reason. */
function reapCause(
  info: SessionInfo,
  reason: ReapReason,
  olderThanMs: number | undefined,
): SessionEndCause {
  if (reason === "ttl") {
    const ttl = ttlOf(info);
    return { kind: "ttl", ...(ttl !== undefined ? { limit: ttl } : {}) };
  }
  if (reason === "older-than")
    return { kind: "reaped", reason, ...(olderThanMs !== undefined ? { limit: olderThanMs } : {}) };
  return { kind: "reaped", reason };
}

function endFields(end: SessionEnd): { at: string; cause: SessionEndCause } {
  return { at: end.at, cause: end.cause };
}

/** Why an exec that failed as a call ended, for its event. */
function execFailureKind(error: unknown): ExecEndCause["kind"] {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "SESSION_NOT_FOUND" || code === "SESSION_NOT_RUNNING") return "session-ended";
  if (code === "PROVIDER_UNAVAILABLE") return "engine-lost";
  return "agent-lost";
}
