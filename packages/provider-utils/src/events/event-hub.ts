import type { SessionEvent } from "@cadre/agent-runtime-contract";

/**
 * What one provider instance does, as it does it: the lifecycle emits here (its starts, execs,
 * ends, reaps) and each events() stream listens. Listeners are called synchronously and must not
 * throw; a stream only queues.
 */
export class EventHub {
  private readonly listeners = new Set<(event: SessionEvent) => void>();

  /** Returns the call that stops listening. */
  subscribe(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: SessionEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Whether anybody listens: an event nobody would read is not made. */
  get listening(): boolean {
    return this.listeners.size > 0;
  }
}
