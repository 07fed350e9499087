/** Longest delay setTimeout accepts; longer TTLs (up to 30 days) are waited for in steps. */
const maxTimerDelayMs = 2_147_483_647;

/**
 * One unref'd timer per session that calls `expire(id)` at its deadline. Unref'd, so a pending
 * TTL never keeps the process alive; if the process exits first, reap() finds the session.
 */
export class TtlTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly expire: (id: string) => Promise<void>) {}

  schedule(id: string, at: number): void {
    this.cancel(id);
    const wait = Math.min(Math.max(at - Date.now(), 0), maxTimerDelayMs);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      if (Date.now() < at) return this.schedule(id, at);
      this.expire(id).catch((error: unknown) => {
        process.emitWarning(`cadre stub: TTL destroy of ${id} failed: ${String(error)}`);
      });
    }, wait);
    timer.unref();
    this.timers.set(id, timer);
  }

  cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  cancelAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
