import {
  AgentRuntimeError,
  BackendError,
  type ParsedEventsOptions,
  type SessionEnd,
  type SessionEvent,
  type SessionInfo,
} from "@cadre/agent-runtime-contract";
import type { EngineEvent } from "../lifecycle/session-backend.js";
import { asEngineLoss, type ReapReason, type SandboxExit } from "../lifecycle/session-ends.js";
import { matchesLabels } from "../session-labels.js";
import { TtlTimers } from "../ttl-timers.js";
import type { EventHub } from "./event-hub.js";

/** What a stream reads: the lifecycle's view of its backend, and its own events. */
export interface SessionEventSource {
  readonly providerId: string;
  readonly hub: EventHub;
  /** Every session of this provider in the backend now, in any state. */
  sessions(): Promise<SessionInfo[]>;
  /** One session as getSession tells it, an ended one included; undefined when none. */
  session(id: string): Promise<SessionInfo | undefined>;
  /** Why a session ended: its record, else the engine's account of its exit (given, or read). */
  endOf(id: string, exit?: SandboxExit): Promise<SessionEnd>;
  /** Why reap() removed a session, when it did (its end record says). */
  reapReason(id: string): Promise<ReapReason | undefined>;
  /** Keeps an end only a stream saw (the engine lost) where getSession reads it. */
  keepEnd(id: string, end: SessionEnd): Promise<void>;
  engineEvents?(options: { since?: string; signal: AbortSignal }): AsyncIterable<EngineEvent>;
  /** Between two reads of sessions() when there is no engine stream. */
  readonly pollIntervalMs: number;
}

/** How far behind a consumer may fall before its stream fails instead of growing without end. */
export const maxQueuedEvents = 100_000;
/**
 * An exit from outside (a stop, a kill) waits this long for the engine's stream to break before it
 * is told: an engine shutting down stops its sandboxes first and then goes, and those ends are the
 * engine's, told as engine-lost once it is back.
 */
const engineLossGraceMs = 5_000;
/** An exit this close before the engine's stream broke is taken as part of the outage. */
const outageSlackMs = engineLossGraceMs + 1_000;
const firstRetryMs = 250;
const lastRetryMs = 5_000;

interface Tracked {
  info?: SessionInfo;
  /** session.started was emitted, or the session ran before the stream began. */
  started: boolean;
  /**
   * It ran when the stream first read the backend: it started before, or just after the engine's
   * stream connected, so a start the engine or the instance tells still comes.
   */
  startedUnseen: boolean;
  ended: boolean;
  /**
   * It did not run when the stream first read the backend: it ended before, or just after the
   * engine's stream connected. Only the engine's own word of an exit (which comes for what happens
   * after connecting) tells it ended then.
   */
  endedUnseen: boolean;
  reaped: boolean;
}

/**
 * One events() iteration. Every input (the instance's own events, the engine's, a reconcile after
 * connecting) runs one at a time in arrival order, against one record per session, so a
 * session's started, ended and reaped come once each whatever source tells them first: a replay
 * after a reconnect, or a reconcile that read the same end from the backend, repeats nothing.
 * After a connection was lost, a reconcile of the backend finds what ended meanwhile: nothing is
 * lost either.
 */
export class SessionEventStream {
  private readonly tracked = new Map<string, Tracked>();
  private readonly queue = new EventQueue();
  private wake: (() => void) | undefined;
  private failure: unknown;
  private serial: Promise<void> = Promise.resolve();
  private readonly stop = new AbortController();
  private readonly approaching: TtlTimers;
  /** The engine's stream is broken (between a loss and the next connection). */
  private engineDown = false;
  private readonly engineBreakWaiters = new Set<() => void>();

  constructor(
    private readonly source: SessionEventSource,
    private readonly options: ParsedEventsOptions,
  ) {
    this.approaching = new TtlTimers(async (id) => this.enqueue(() => this.ttlApproaching(id)));
  }

  /** Events told but not read yet. */
  get queued(): number {
    return this.queue.size;
  }

  /** Ends the iteration, as the caller's signal does. */
  close(): void {
    this.stop.abort();
    this.wake?.();
  }

  async *events(): AsyncGenerator<SessionEvent> {
    const unsubscribe = this.source.hub.subscribe((event) =>
      this.enqueue(() => this.fromInstance(event)),
    );
    const onAbort = () => this.close();
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    if (this.options.signal?.aborted) this.close();
    const feeding = this.source.engineEvents ? this.followEngine() : this.poll();
    try {
      while (!this.stop.signal.aborted) {
        const next = this.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.failure) throw this.failure;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      this.close();
      unsubscribe();
      this.options.signal?.removeEventListener("abort", onAbort);
      this.approaching.cancelAll();
      await feeding.catch(() => {});
    }
  }

  /** Runs `step` after every earlier one; a failed step ends the stream with its error. */
  private enqueue(step: () => Promise<void> | void): Promise<void> {
    const run = this.serial.then(async () => {
      if (this.stop.signal.aborted) return;
      try {
        await step();
      } catch (error) {
        this.fail(error);
      }
    });
    this.serial = run;
    return run;
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.wake?.();
  }

  private push(event: SessionEvent): void {
    if (this.queue.size >= maxQueuedEvents) {
      this.fail(
        new BackendError(
          `events() stopped: its reader fell ${maxQueuedEvents} events behind. Read the stream ` +
            "as it comes, or narrow it with sessionId or labels.",
          { providerId: this.source.providerId },
        ),
      );
      return;
    }
    this.queue.push(event);
    this.wake?.();
  }

  /** Pushes the event when its session is the one asked for and carries the labels asked for. */
  private async deliver(event: SessionEvent): Promise<void> {
    const { sessionId, labels } = this.options;
    if (sessionId !== undefined && event.sessionId !== sessionId) return;
    if (labels) {
      const info = await this.infoOf(event.sessionId);
      if (!info || !matchesLabels(info, labels)) return;
    }
    this.push(event);
  }

  private async infoOf(id: string): Promise<SessionInfo | undefined> {
    const entry = this.entry(id);
    entry.info ??= await this.source.session(id);
    return entry.info;
  }

  private entry(id: string): Tracked {
    let entry = this.tracked.get(id);
    if (!entry) {
      entry = {
        started: false,
        startedUnseen: false,
        ended: false,
        endedUnseen: false,
        reaped: false,
      };
      this.tracked.set(id, entry);
    }
    return entry;
  }

  private async fromInstance(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case "session.started":
        return this.started(event.sessionId, event.at);
      case "session.ended":
        return this.ended(event.sessionId, { cause: event.cause, at: event.at });
      case "session.reaped":
        return this.reaped(event.sessionId, event.reason, event.at);
      default:
        return this.deliver(event);
    }
  }

  private async fromEngine(event: Exclude<EngineEvent, { kind: "connected" }>): Promise<void> {
    const id = event.sessionId;
    switch (event.kind) {
      case "started":
        return this.started(id, event.at);
      case "exited": {
        const entry = this.tracked.get(id);
        if (entry?.endedUnseen) {
          entry.endedUnseen = false;
          entry.ended = false;
        }
        if (entry?.ended) return;
        const end = await this.source.endOf(id, event.exit);
        // Stopped or killed from outside: by the engine itself when its stream breaks next. Then
        // the reconcile after it is back tells this end, as engine-lost.
        if (asEngineLoss(end) !== end && (await this.engineBreaksWithin(engineLossGraceMs))) return;
        return this.ended(id, end);
      }
      case "removed": {
        if (!this.tracked.get(id)?.ended) await this.ended(id, await this.source.endOf(id));
        const reason = await this.source.reapReason(id);
        if (reason) await this.reaped(id, reason, event.at);
        return;
      }
      case "oom": {
        const info = await this.infoOf(id);
        const limit = info?.policy.memory;
        return this.deliver({
          type: "limit.hit",
          sessionId: id,
          at: event.at,
          resource: "memory",
          ...(limit !== undefined ? { limit } : {}),
        });
      }
    }
  }

  private async started(id: string, at: string): Promise<void> {
    const entry = this.entry(id);
    if ((entry.started && !entry.startedUnseen) || entry.ended) return;
    entry.started = true;
    entry.startedUnseen = false;
    entry.info = (await this.source.session(id)) ?? entry.info;
    this.scheduleApproach(id, entry.info);
    await this.deliver({ type: "session.started", sessionId: id, at });
  }

  private async ended(id: string, end: SessionEnd): Promise<void> {
    const entry = this.entry(id);
    if (entry.ended) return;
    entry.ended = true;
    entry.endedUnseen = false;
    entry.started = true;
    entry.startedUnseen = false;
    this.approaching.cancel(id);
    await this.deliver({ type: "session.ended", sessionId: id, at: end.at, cause: end.cause });
  }

  private async reaped(id: string, reason: ReapReason, at: string): Promise<void> {
    const entry = this.entry(id);
    if (entry.reaped) return;
    entry.reaped = true;
    await this.deliver({ type: "session.reaped", sessionId: id, at, reason });
  }

  private scheduleApproach(id: string, info: SessionInfo | undefined): void {
    if (!info?.expiresAt || info.state !== "running") return;
    const expires = Date.parse(info.expiresAt);
    if (expires <= Date.now()) return;
    this.approaching.schedule(id, expires - this.options.ttlLeadMs);
  }

  private async ttlApproaching(id: string): Promise<void> {
    const entry = this.tracked.get(id);
    const expiresAt = entry?.info?.expiresAt;
    if (!entry || entry.ended || !expiresAt) return;
    await this.deliver({
      type: "ttl.approaching",
      sessionId: id,
      at: new Date().toISOString(),
      expiresAt,
      leadMs: this.options.ttlLeadMs,
    });
  }

  /**
   * Compares the backend with what the stream knows. The first time, what runs already is taken
   * as it is (events are from now on); later, what runs and was not known started, and what was
   * known and no longer runs ended. `outageSince`: the engine's stream broke then, so a stop or
   * kill from outside since was the engine going away.
   */
  private async reconcile(first: boolean, outageSince?: number): Promise<void> {
    const now = await this.source.sessions();
    const byId = new Map(now.map((info) => [info.id, info]));
    for (const [id, entry] of this.tracked) {
      if (entry.ended) continue;
      const current = byId.get(id);
      if (current?.state === "running") continue;
      if (!current && !entry.started) continue; // told of by the instance, not yet in the backend
      let end = await this.source.endOf(id);
      if (outageSince !== undefined && Date.parse(end.at) >= outageSince - outageSlackMs) {
        const lost = asEngineLoss(end);
        if (lost !== end && current) await this.source.keepEnd(id, lost);
        end = lost;
      }
      await this.ended(id, end);
    }
    for (const info of now) {
      if (this.tracked.has(info.id)) continue;
      const entry = this.entry(info.id);
      entry.info = info;
      if (info.state !== "running") {
        entry.started = true;
        entry.ended = true;
        entry.endedUnseen = first;
      } else if (first) {
        entry.started = true;
        entry.startedUnseen = true;
        this.scheduleApproach(info.id, info);
      } else {
        await this.started(info.id, new Date().toISOString());
      }
    }
  }

  /** Without an engine stream: the backend, read at an interval; a failed read is read again. */
  private async poll(): Promise<void> {
    let first = true;
    while (!this.stop.signal.aborted) {
      await this.enqueue(async () => {
        try {
          await this.engineStep(() => this.reconcile(first));
          first = false;
        } catch {
          // The backend failed the read: the next one reads it again.
        }
      });
      await sleep(this.source.pollIntervalMs, this.stop.signal);
    }
  }

  /**
   * The engine's stream, reconnected after each loss, from the last event's cursor. A step that
   * fails on the engine (it is going away, or not back yet) drops the connection: the reconcile
   * after the next one reads what that step could not.
   */
  private async followEngine(): Promise<void> {
    const engineEvents = this.source.engineEvents?.bind(this.source);
    if (!engineEvents) return;
    let cursor: string | undefined;
    let first = true;
    let outageSince: number | undefined;
    let retryMs = firstRetryMs;
    while (!this.stop.signal.aborted) {
      const connection = new AbortController();
      const onEngine = (step: () => Promise<void>) =>
        this.enqueue(() => this.engineStep(step).catch(() => connection.abort()));
      try {
        for await (const event of engineEvents({
          ...(cursor ? { since: cursor } : {}),
          signal: AbortSignal.any([this.stop.signal, connection.signal]),
        })) {
          if (connection.signal.aborted) break;
          if (event.kind === "connected") {
            this.engineDown = false;
            const since = outageSince;
            void onEngine(async () => {
              await this.reconcile(first, since);
              first = false;
              if (outageSince === since) outageSince = undefined;
              retryMs = firstRetryMs;
            });
            continue;
          }
          if (event.cursor) cursor = event.cursor;
          void onEngine(() => this.fromEngine(event));
        }
      } catch {
        // The connection failed or broke: reconnect below.
      }
      if (this.stop.signal.aborted) return;
      // Not first: before the first connection there was nothing to lose.
      if (!first) outageSince ??= Date.now();
      this.markEngineDown();
      await sleep(retryMs, this.stop.signal);
      retryMs = Math.min(retryMs * 2, lastRetryMs);
    }
  }

  /**
   * Runs a step that reads the engine. Its failure on the engine's side (unreachable, an error of
   * its own) rejects with EngineTrouble, which the stream survives; any other ends the stream.
   */
  private async engineStep(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      const trouble =
        AgentRuntimeError.isInstance(error) &&
        (error.code === "BACKEND_ERROR" || error.code === "PROVIDER_UNAVAILABLE");
      if (!trouble) {
        this.fail(error);
        return;
      }
      throw new EngineTrouble(error);
    }
  }

  private markEngineDown(): void {
    this.engineDown = true;
    for (const wake of this.engineBreakWaiters) wake();
    this.engineBreakWaiters.clear();
  }

  /** Whether the engine's stream breaks within `ms` (or is broken now). */
  private engineBreaksWithin(ms: number): Promise<boolean> {
    if (this.engineDown) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (broke: boolean) => {
        clearTimeout(timer);
        this.engineBreakWaiters.delete(onBreak);
        this.stop.signal.removeEventListener("abort", onStop);
        resolve(broke);
      };
      const onBreak = () => done(true);
      const onStop = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.engineBreakWaiters.add(onBreak);
      this.stop.signal.addEventListener("abort", onStop, { once: true });
    });
  }
}

/** A step failed on the engine's side: the stream goes on, and reads it again when it can. */
class EngineTrouble extends Error {
  constructor(readonly error: unknown) {
    super("the engine failed a step of events()");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** First in, first out, in constant time per event (an array's shift() copies the rest). */
class EventQueue {
  private items: SessionEvent[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(event: SessionEvent): void {
    this.items.push(event);
  }

  shift(): SessionEvent | undefined {
    if (this.head >= this.items.length) return undefined;
    const event = this.items[this.head];
    this.head += 1;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return event;
  }
}
