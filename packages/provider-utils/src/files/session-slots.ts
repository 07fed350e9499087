/**
 * At most `limit` operations at once per session; the others wait their turn in order. Bounds
 * what one session's transfers take of a provider instance (memory in flight, the agent's link).
 */
export class SessionSlots {
  private readonly sessions = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly limit: number) {}

  async run<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    let slot = this.sessions.get(sessionId);
    if (!slot) {
      slot = { running: 0, waiting: [] };
      this.sessions.set(sessionId, slot);
    }
    const held = slot;
    // A slot that frees up passes straight to the first waiter, so no newcomer slips in between.
    if (held.running >= this.limit)
      await new Promise<void>((resolve) => held.waiting.push(resolve));
    else held.running++;
    try {
      return await work();
    } finally {
      const next = held.waiting.shift();
      if (next) next();
      else if (--held.running === 0) this.sessions.delete(sessionId);
    }
  }
}
