import { readdirSync } from "node:fs";

/** Open file descriptors of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Heap in use after full collections, or undefined when node runs without --expose-gc. */
export function heapAfterGc(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  // Several rounds: finalizers and weak callbacks of one round free more in the next.
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

export interface ProcessSample {
  fds: number;
  heapBytes: number | undefined;
  rssBytes: number;
}

export function sampleProcess(): ProcessSample {
  const heapBytes = heapAfterGc();
  return { fds: openFdCount(), heapBytes, rssBytes: process.memoryUsage().rss };
}
