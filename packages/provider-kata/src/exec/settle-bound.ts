/** What `SettleBound.within` found: the promise's value, or that the bound passed first. */
export type Within<T> = { settled: true; value: T } | { settled: false };

/**
 * Points in time, counted from the moment an exec's deadline (or abort) fired, by which each
 * part of its settling must be done, so that a command that holds its output open or outlives
 * its kill cannot hold exec past the deadline plus the grace. Before the deadline fires nothing
 * is bounded: a command without a timeout is waited for as long as it runs.
 */
export class SettleBound implements Disposable {
  private firedAt: number | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending: { offsetMs: number; resolve: () => void }[] = [];
  private readonly onFire = () => this.fire();

  constructor(private readonly signal: AbortSignal) {
    if (signal.aborted) this.fire();
    else signal.addEventListener("abort", this.onFire, { once: true });
  }

  /** Milliseconds since the deadline fired, or undefined before. */
  elapsed(): number | undefined {
    return this.firedAt === undefined ? undefined : performance.now() - this.firedAt;
  }

  /** Resolves `offsetMs` after the deadline fired; never when it does not fire. */
  after(offsetMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.firedAt === undefined) this.pending.push({ offsetMs, resolve });
      else this.schedule(offsetMs, resolve);
    });
  }

  /** Resolves `ms` from now, on this bound's timers (cleared with it). */
  fromNow(ms: number): Promise<void> {
    return this.after((this.elapsed() ?? 0) + ms);
  }

  /**
   * `promise`'s value, or `{ settled: false }` when the bound `offsetMs` passes first, or
   * `giveUp` settles first.
   */
  async within<T>(
    promise: Promise<T>,
    offsetMs: number,
    giveUp?: Promise<unknown>,
  ): Promise<Within<T>> {
    const notSettled = { settled: false as const };
    return Promise.race([
      promise.then((value) => ({ settled: true as const, value })),
      this.after(offsetMs).then(() => notSettled),
      ...(giveUp ? [giveUp.then(() => notSettled)] : []),
    ]);
  }

  private fire(): void {
    this.firedAt = performance.now();
    for (const { offsetMs, resolve } of this.pending.splice(0)) this.schedule(offsetMs, resolve);
  }

  private schedule(offsetMs: number, resolve: () => void): void {
    const wait = Math.max(0, offsetMs - (this.elapsed() ?? 0));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      resolve();
    }, wait);
    this.timers.add(timer);
  }

  [Symbol.dispose](): void {
    this.signal.removeEventListener("abort", this.onFire);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.pending.length = 0;
  }
}
