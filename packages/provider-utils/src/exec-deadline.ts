/**
 * One signal for "stop this command now", fired by the exec's timeout or by the caller's
 * AbortSignal, remembering which of the two it was. Dispose it when the command ends.
 */
export class ExecDeadline implements Disposable {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort = () => this.controller.abort("aborted");
  timedOut = false;

  constructor(
    /** The exec's timeoutMs, as it asked. */
    readonly timeoutMs: number | undefined,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort("timeout");
      }, timeoutMs);
    }
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener("abort", this.onCallerAbort, { once: true });
  }

  /** Fires once, at the deadline or on the caller's abort. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True when the caller aborted (exec then rejects with the caller's reason). */
  get abortedByCaller(): boolean {
    return !this.timedOut && this.callerSignal?.aborted === true;
  }

  /** The caller's abort reason, to reject exec with. */
  get callerReason(): unknown {
    return this.callerSignal?.reason;
  }

  [Symbol.dispose](): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener("abort", this.onCallerAbort);
  }
}
