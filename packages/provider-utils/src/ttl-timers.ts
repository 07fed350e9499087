/** Longest delay setTimeout accepts; longer TTLs (the contract allows 30 days) are waited for in steps. */
export const maxTimerDelayMs = 2_147_483_647;

/**
 * The one TTL mechanism of every provider: an unref'd timer per session that calls `expire(id)`
 * at its deadline. setTimeout clamps any delay over 2^31-1 ms to 1 ms, so a long TTL is waited for
 * in steps instead of firing at once. Unref'd, so a pending TTL never keeps the process alive; if
 * the process exits first, reap() finds the session through its ttl label.
 */
export class TtlTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly expire: (id: string) => Promise<void>,
    private readonly providerId = "provider",
  ) {}

  /** Calls expire(id) at `at` (epoch ms); replaces an earlier schedule of the same id. */
  schedule(id: string, at: number): void {
    this.cancel(id);
    const wait = Math.min(Math.max(at - Date.now(), 0), maxTimerDelayMs);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      if (Date.now() < at) return this.schedule(id, at);
      this.expire(id).catch((error: unknown) => {
        // Nobody awaits this; the session stays for the next reap(), which sees its TTL.
        process.emitWarning(
          `cadre ${this.providerId}: TTL destroy of ${id} failed: ${String(error)}`,
        );
      });
    }, wait);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Schedules expiry `ttlMs` after now. */
  scheduleIn(id: string, ttlMs: number): void {
    this.schedule(id, Date.now() + ttlMs);
  }

  cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  cancelAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Sessions with a pending timer (for tests and diagnostics). */
  get size(): number {
    return this.timers.size;
  }
}
