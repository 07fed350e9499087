import {
  BackendError,
  type SessionEnd,
  type SessionEvent,
  type SessionInfo,
  type SessionState,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { EventHub } from "../src/events/event-hub.js";
import {
  maxQueuedEvents,
  type SessionEventSource,
  SessionEventStream,
} from "../src/events/session-event-stream.js";
import type { EngineEvent } from "../src/lifecycle/session-backend.js";
import { asEngineLoss, endOfExit } from "../src/lifecycle/session-ends.js";

/**
 * The stream's own logic over a scripted source: which events come, once each, in order. The
 * engines' real streams are exercised by the conformance suite's events area.
 */
function info(id: string, state: SessionState, extra: Partial<SessionInfo> = {}): SessionInfo {
  return {
    id,
    providerId: "test",
    state,
    policy: {},
    envNames: [],
    labels: {},
    createdAt: new Date().toISOString(),
    owner: "o",
    ...extra,
  };
}

/** A backend the test changes, and an engine stream it feeds by hand, connection by connection. */
class ScriptedSource implements SessionEventSource {
  readonly providerId = "test";
  readonly hub = new EventHub();
  readonly pollIntervalMs = 20;
  sessionsNow: SessionInfo[] = [];
  ends = new Map<string, SessionEnd>();
  kept: Array<{ id: string; end: SessionEnd }> = [];
  connections: Array<{ since?: string; push: (e: EngineEvent) => void; end: (e?: Error) => void }> =
    [];
  refuse = 0;
  /** endOf fails this many more times, as an engine going away does. */
  failEndOf = 0;
  withEngine = true;

  async sessions() {
    return this.sessionsNow;
  }
  async session(id: string) {
    return this.sessionsNow.find((s) => s.id === id);
  }
  async endOf(id: string) {
    if (this.failEndOf > 0) {
      this.failEndOf -= 1;
      throw new BackendError("the engine's database is not open", { providerId: "test" });
    }
    return (
      this.ends.get(id) ?? {
        cause: { kind: "destroyed" as const, by: "outside" as const },
        at: new Date().toISOString(),
      }
    );
  }
  async reapReason() {
    return undefined;
  }
  async keepEnd(id: string, end: SessionEnd) {
    this.kept.push({ id, end });
  }

  get engineEvents() {
    if (!this.withEngine) return undefined;
    return (options: { since?: string; signal: AbortSignal }) => this.connect(options);
  }

  private async *connect(options: { since?: string; signal: AbortSignal }) {
    if (this.refuse > 0) {
      this.refuse -= 1;
      throw new Error("connection refused");
    }
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    let ended: Error | null | undefined;
    this.connections.push({
      ...(options.since ? { since: options.since } : {}),
      push: (e) => {
        queue.push(e);
        wake?.();
      },
      end: (e) => {
        ended = e ?? null;
        wake?.();
      },
    });
    yield { kind: "connected" } as EngineEvent;
    while (!options.signal.aborted) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended !== undefined) {
        if (ended) throw ended;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        options.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }
}

async function collect(
  stream: SessionEventStream,
  count: number,
  during: () => Promise<void>,
): Promise<SessionEvent[]> {
  const seen: SessionEvent[] = [];
  const iterator = stream.events();
  const reading = (async () => {
    for await (const event of iterator) {
      seen.push(event);
      if (seen.length >= count) break;
    }
  })();
  await during();
  await reading;
  return seen;
}

/** Resolves once `check` holds; the scripted source answers at once, so this is quick. */
async function until(check: () => boolean, withinMs = 2_500): Promise<void> {
  for (let i = 0; i < withinMs / 5 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error("condition never held");
}

/** Reads a stream event by event, so a test acts only after what it waits for was told. */
function reader(stream: SessionEventStream) {
  const iterator = stream.events();
  // Asked at once: a stream begins (listens, connects) when it is first read.
  let pending = iterator.next();
  return {
    async next(): Promise<SessionEvent> {
      const { value, done } = await pending;
      if (done) throw new Error("the stream ended");
      pending = iterator.next();
      return value;
    },
    async close() {
      stream.close();
      await pending;
    },
  };
}

const options = { ttlLeadMs: 60_000 };
const at = "2026-01-01T00:00:00.000Z";

describe("SessionEventStream", () => {
  it("tells a session's start and end once, whoever tells them first", async () => {
    const source = new ScriptedSource();
    const stream = new SessionEventStream(source, options);
    const events = await collect(stream, 2, async () => {
      await until(() => source.connections.length === 1);
      source.sessionsNow = [info("s1", "running")];
      source.hub.emit({ type: "session.started", sessionId: "s1", at });
      source.connections[0]!.push({ kind: "started", sessionId: "s1", at });
      source.ends.set("s1", { cause: { kind: "destroyed", by: "owner" }, at });
      source.hub.emit({
        type: "session.ended",
        sessionId: "s1",
        at,
        cause: { kind: "destroyed", by: "owner" },
      });
      source.connections[0]!.push({ kind: "exited", sessionId: "s1", at, exit: { exitCode: 0 } });
      source.connections[0]!.push({ kind: "removed", sessionId: "s1", at });
    });
    expect(events.map((e) => e.type)).toEqual(["session.started", "session.ended"]);
    expect(events[1]).toMatchObject({ cause: { kind: "destroyed", by: "owner" } });
  });

  it("takes what ran before it began as it is, and tells only what comes after", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("old", "running"), info("stopped", "stopped")];
    const stream = new SessionEventStream(source, options);
    const events = await collect(stream, 1, async () => {
      await until(() => source.connections.length === 1);
      source.connections[0]!.push({ kind: "removed", sessionId: "stopped", at });
      source.connections[0]!.push({ kind: "oom", sessionId: "old", at });
    });
    expect(events).toEqual([{ type: "limit.hit", sessionId: "old", at, resource: "memory" }]);
  });

  it("after the engine went away, tells what ended meanwhile as engine-lost and keeps it", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("a", "running"), info("b", "running")];
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    source.connections[0]!.push({ kind: "oom", sessionId: "a", at });
    // Told after the first read of the backend, which comes first in the stream's order.
    expect(await events.next()).toMatchObject({ type: "limit.hit", sessionId: "a" });
    // The engine restarts: the stream breaks, the next attempt is refused, then it is back with
    // one session stopped from outside and one killed at its memory limit.
    source.refuse = 1;
    const now = new Date().toISOString();
    source.sessionsNow = [info("a", "stopped"), info("b", "failed")];
    source.ends.set("a", { cause: { kind: "stopped", by: "outside" }, at: now });
    source.ends.set("b", { cause: { kind: "memory", limit: 1 }, at: now });
    source.connections[0]!.end(new Error("socket closed"));
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      sessionId: "a",
      cause: { kind: "engine-lost" },
    });
    // An OOM kill during the outage stays what it was.
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      sessionId: "b",
      cause: { kind: "memory", limit: 1 },
    });
    expect(source.connections).toHaveLength(2);
    expect(source.kept).toEqual([
      { id: "a", end: expect.objectContaining({ cause: { kind: "engine-lost" } }) },
    ]);
    await events.close();
  });

  it("takes a kill from outside just before the engine's stream broke for the engine going away", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("k", "running")];
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    // An engine shutting down stops its sandboxes, then goes.
    source.sessionsNow = [info("k", "stopped")];
    source.ends.set("k", {
      cause: { kind: "stopped", by: "outside" },
      at: new Date().toISOString(),
    });
    source.connections[0]!.push({ kind: "exited", sessionId: "k", at, exit: { exitCode: 0 } });
    source.connections[0]!.end(new Error("socket closed"));
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      sessionId: "k",
      cause: { kind: "engine-lost" },
    });
    expect(source.connections).toHaveLength(2);
    expect(source.kept.map((k) => k.end.cause.kind)).toEqual(["engine-lost"]);
    await events.close();
  });

  it("tells a stop from outside as it is when the engine's stream stays up", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("o", "running")];
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    source.sessionsNow = [info("o", "stopped")];
    source.ends.set("o", { cause: { kind: "stopped", by: "outside" }, at });
    source.connections[0]!.push({ kind: "exited", sessionId: "o", at, exit: { exitCode: 0 } });
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      sessionId: "o",
      cause: { kind: "stopped", by: "outside" },
    });
    expect(source.connections).toHaveLength(1);
    await events.close();
  }, 20_000);

  it("survives a step the engine fails: reconnects, and the reconcile tells what that step could not", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("f", "running")];
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    source.sessionsNow = [info("f", "failed")];
    source.ends.set("f", { cause: { kind: "memory", limit: 1 }, at });
    source.failEndOf = 1;
    source.connections[0]!.push({ kind: "exited", sessionId: "f", at, exit: { exitCode: 137 } });
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      sessionId: "f",
      cause: { kind: "memory", limit: 1 },
    });
    expect(source.connections).toHaveLength(2);
    expect(source.failEndOf).toBe(0);
    await events.close();
  });

  it("resumes from the last event's cursor, and a replayed event is not told twice", async () => {
    const source = new ScriptedSource();
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    source.sessionsNow = [info("s", "running")];
    source.connections[0]!.push({ kind: "started", sessionId: "s", at, cursor: "c1" });
    expect(await events.next()).toMatchObject({ type: "session.started", sessionId: "s" });
    source.connections[0]!.end();
    await until(() => source.connections.length === 2);
    expect(source.connections[1]!.since).toBe("c1");
    source.connections[1]!.push({ kind: "started", sessionId: "s", at, cursor: "c1" });
    source.ends.set("s", { cause: { kind: "agent-lost", exitCode: 3 }, at });
    source.connections[1]!.push({ kind: "exited", sessionId: "s", at, exit: { exitCode: 3 } });
    expect(await events.next()).toMatchObject({
      type: "session.ended",
      cause: { kind: "agent-lost", exitCode: 3 },
    });
    await events.close();
  });

  it("tells an end the engine reports right after connecting, of a session that ran before", async () => {
    const source = new ScriptedSource();
    // Read as stopped by the first reconcile, though it stopped after the stream connected.
    source.sessionsNow = [info("late", "stopped")];
    source.ends.set("late", { cause: { kind: "memory", limit: 1 }, at });
    const events = reader(new SessionEventStream(source, options));
    await until(() => source.connections.length === 1);
    source.connections[0]!.push({ kind: "exited", sessionId: "late", at, exit: {} });
    source.connections[0]!.push({ kind: "removed", sessionId: "late", at });
    source.connections[0]!.push({ kind: "oom", sessionId: "other", at });
    expect(await events.next()).toMatchObject({ type: "session.ended", sessionId: "late" });
    expect(await events.next()).toMatchObject({ type: "limit.hit", sessionId: "other" });
    await events.close();
  });

  it("without an engine stream, reads the backend at an interval", async () => {
    const source = new ScriptedSource();
    source.withEngine = false;
    const stream = new SessionEventStream(source, options);
    const events = await collect(stream, 2, async () => {
      await new Promise((r) => setTimeout(r, 50));
      source.sessionsNow = [info("p", "running")];
      await new Promise((r) => setTimeout(r, 50));
      source.sessionsNow = [];
    });
    expect(events.map((e) => [e.type, e.sessionId])).toEqual([
      ["session.started", "p"],
      ["session.ended", "p"],
    ]);
  });

  it("tells ttl.approaching the lead time before a TTL runs out, once", async () => {
    const source = new ScriptedSource();
    const expiresAt = new Date(Date.now() + 30_000).toISOString();
    source.sessionsNow = [info("t", "running", { expiresAt })];
    const stream = new SessionEventStream(source, options);
    const events = await collect(stream, 1, async () => {});
    expect(events).toEqual([
      expect.objectContaining({
        type: "ttl.approaching",
        sessionId: "t",
        expiresAt,
        leadMs: 60_000,
      }),
    ]);
  });

  it("filters by session id and labels", async () => {
    const source = new ScriptedSource();
    source.sessionsNow = [info("x", "running"), info("y", "running", { labels: { team: "a" } })];
    const stream = new SessionEventStream(source, { ...options, labels: { team: "a" } });
    const events = await collect(stream, 1, async () => {
      await until(() => source.connections.length === 1);
      source.connections[0]!.push({ kind: "oom", sessionId: "x", at });
      source.connections[0]!.push({ kind: "oom", sessionId: "y", at });
    });
    expect(events.map((e) => e.sessionId)).toEqual(["y"]);
  });

  it("ends when its signal aborts", async () => {
    const source = new ScriptedSource();
    const abort = new AbortController();
    const stream = new SessionEventStream(source, { ...options, signal: abort.signal });
    const iterator = stream.events();
    const first = iterator.next();
    abort.abort();
    expect(await first).toEqual({ done: true, value: undefined });
  });

  it("fails a reader that fell too far behind, after what it queued", async () => {
    const flooded = new SessionEventStream(new ScriptedSource(), options);
    const events = reader(flooded);
    const hub = (flooded as unknown as { source: ScriptedSource }).source.hub;
    await until(() => hub.listening);
    // Nobody reads while these are told: past the bound, the stream fails instead of growing.
    // The first is read at once (the reader asks ahead); the queue holds the bound; one more fails.
    for (let i = 0; i < maxQueuedEvents + 2; i++)
      hub.emit({ type: "exec.started", sessionId: "s", execId: String(i), command: "x", at });
    await until(() => flooded.queued === maxQueuedEvents, 20_000);
    let read = 0;
    let failure: unknown;
    try {
      for (;;) {
        await events.next();
        read += 1;
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toMatchObject({ code: "BACKEND_ERROR" });
    expect(read).toBe(maxQueuedEvents + 1);
  }, 60_000);
});

describe("session ends", () => {
  const policy = { policy: { memory: 64 } };
  it("reads the engine's account of an exit", () => {
    expect(endOfExit({ oomKilled: true, exitCode: 137 }, policy).cause).toEqual({
      kind: "memory",
      limit: 64,
    });
    expect(endOfExit({ exitCode: 137 }, policy).cause).toEqual({
      kind: "agent-lost",
      signal: "SIGKILL",
    });
    expect(endOfExit({ exitCode: 0 }, policy).cause).toEqual({ kind: "stopped", by: "outside" });
    expect(endOfExit({ exitCode: 70 }, policy).cause).toEqual({ kind: "agent-lost", exitCode: 70 });
    expect(endOfExit({}, policy).cause).toEqual({ kind: "agent-lost" });
    expect(endOfExit({ at: "not a date" }, policy).at).toMatch(/^\d{4}-/);
  });

  it("takes a stop or kill from outside during an outage for the engine lost, nothing else", () => {
    const end = (cause: SessionEnd["cause"]): SessionEnd => ({ cause, at });
    expect(asEngineLoss(end({ kind: "stopped", by: "outside" })).cause).toEqual({
      kind: "engine-lost",
    });
    expect(asEngineLoss(end({ kind: "agent-lost", signal: "SIGKILL" })).cause.kind).toBe(
      "engine-lost",
    );
    for (const kept of [
      end({ kind: "memory" }),
      end({ kind: "agent-lost", exitCode: 2 }),
      end({ kind: "stopped", by: "owner" }),
      end({ kind: "destroyed", by: "owner" }),
    ]) {
      expect(asEngineLoss(kept)).toBe(kept);
    }
  });
});
