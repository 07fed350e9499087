import type { EventsOptions, IsolationProvider, SessionEvent } from "@cadre/agent-runtime-contract";

/**
 * Reads provider.events() in the background from the moment it is made, keeping every event, so
 * that a test acts and then waits for the event its action causes (never a sleep).
 */
export class EventWatch {
  readonly events: SessionEvent[] = [];
  private readonly abort = new AbortController();
  private readonly waiters = new Set<() => void>();
  private failure: unknown;
  private ended = false;
  private readonly reading: Promise<void>;

  constructor(provider: IsolationProvider, options: Omit<EventsOptions, "signal"> = {}) {
    if (typeof provider.events !== "function") {
      throw new Error("the provider has no events(): it is part of the contract (v1 addition)");
    }
    const iterable = provider.events({ ...options, signal: this.abort.signal });
    const iterator = iterable[Symbol.asyncIterator]();
    // Asked at once: a stream begins when it is first read.
    const first = iterator.next();
    this.reading = (async () => {
      try {
        for (let next = await first; !next.done; next = await iterator.next()) {
          this.events.push(next.value);
          for (const wake of this.waiters) wake();
        }
      } catch (error) {
        this.failure = error;
      } finally {
        this.ended = true;
        for (const wake of this.waiters) wake();
      }
    })();
  }

  /** The events of one session, in order. */
  of(sessionId: string): SessionEvent[] {
    return this.events.filter((e) => e.sessionId === sessionId);
  }

  /** Resolves with the first event (kept or to come) that matches; fails after `withinMs`. */
  async waitFor(
    what: string,
    matches: (event: SessionEvent) => boolean,
    withinMs: number,
  ): Promise<SessionEvent> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const found = this.events.find(matches);
      if (found) return found;
      if (this.failure)
        throw new Error(`events() failed while waiting for ${what}`, { cause: this.failure });
      if (this.ended) throw new Error(`events() ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => `${e.type} ${e.sessionId}`).join(", ") || "none";
        throw new Error(`no event for ${what} within ${withinMs} ms (seen: ${seen})`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Ends the stream and waits for its reader. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.reading;
  }
}
