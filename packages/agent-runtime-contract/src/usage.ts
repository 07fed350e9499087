import { z } from "zod";
import { PolicyValidationError } from "./errors.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

/**
 * What a session uses (contract v1 addition, `features.usage`), read from outside its sandbox:
 * the host's cgroup counters or the engine's stats, never a helper inside it. A field the
 * provider cannot read there is left out.
 */
export interface SessionStats {
  sessionId: string;
  /** When it was read, ISO 8601. */
  at: string;
  /** CPU time of all its processes together, in seconds. */
  cpuSeconds?: number;
  memoryBytes?: number;
  /** The most it has used at once. */
  peakMemoryBytes?: number;
  /** Its memory limit. */
  memoryLimitBytes?: number;
  /** Processes running now. */
  pids?: number;
  pidsLimit?: number;
  /** What its writable layer (or the stub's scratch directory) has grown by. */
  diskBytes?: number;
}

export interface WatchStatsOptions {
  /** Between two readings; 250 ms to an hour, default 2 s. */
  intervalMs?: number;
  /** Ends the stream. */
  signal?: AbortSignal;
}

export const statsLimits = {
  minIntervalMs: 250,
  maxIntervalMs: 3_600_000,
  defaultIntervalMs: 2_000,
} as const;

const watchSchema = z.strictObject({
  intervalMs: z
    .number()
    .int()
    .min(statsLimits.minIntervalMs)
    .max(statsLimits.maxIntervalMs)
    .optional(),
  signal: z.instanceof(AbortSignal).optional(),
});

export function parseWatchStatsOptions(
  options: unknown,
  providerId?: string,
): { intervalMs: number; signal?: AbortSignal } {
  const parsed = safeParseInput(watchSchema.optional(), options);
  const issues = toPolicyIssues(parsed.error, "options");
  if (issues.length > 0)
    throw new PolicyValidationError(issues, { subject: "stats request", providerId });
  return {
    intervalMs: parsed.data?.intervalMs ?? statsLimits.defaultIntervalMs,
    ...(parsed.data?.signal ? { signal: parsed.data.signal } : {}),
  };
}
