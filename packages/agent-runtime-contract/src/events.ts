import { z } from "zod";
import { PolicyValidationError } from "./errors.js";
import type { ExecEndCause } from "./exec.js";
import { labelsSchema } from "./policy.js";
import type { SessionEndCause } from "./session-end.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

interface EventBase {
  sessionId: string;
  /** When it happened, as the engine or the provider saw it; ISO 8601. */
  at: string;
}

/**
 * What provider.events() delivers (contract v1 addition). Session events come from the engine's
 * own event stream where it has one, so they include what happened behind the provider's back
 * (another instance's sessions, a `docker kill`); exec events are this instance's execs.
 *
 * - `session.started`: a session of this provider started;
 * - `exec.started`, `exec.ended`: a command of this instance, argv[0] only, with its end cause;
 * - `limit.hit`: a session limit refused or killed something (an OOM kill, a refused fork);
 * - `ttl.approaching`: the session's TTL runs out in `leadMs` (the caller's lead time);
 * - `session.ended`: it stopped running, with its cause (once per session);
 * - `session.reaped`: reap() removed it (after `session.ended` when it still ran).
 */
export type SessionEvent =
  | (EventBase & { type: "session.started" })
  | (EventBase & { type: "exec.started"; execId: string; command: string })
  | (EventBase & {
      type: "exec.ended";
      execId: string;
      command: string;
      /** Absent when the call failed or was aborted: no command's exit then. */
      exitCode?: number;
      cause: ExecEndCause;
    })
  | (EventBase & {
      type: "limit.hit";
      resource: "memory" | "pids";
      /** The limit, in its unit (bytes, processes). */
      limit?: number;
      /** What was seen of it. */
      value?: number;
    })
  | (EventBase & { type: "ttl.approaching"; expiresAt: string; leadMs: number })
  | (EventBase & { type: "session.ended"; cause: SessionEndCause })
  | (EventBase & { type: "session.reaped"; reason: "owner-gone" | "older-than" | "ttl" });

export type SessionEventType = SessionEvent["type"];

export interface EventsOptions {
  /** Ends the iteration (as does leaving a for await loop). */
  signal?: AbortSignal;
  /** How long before a TTL runs out `ttl.approaching` comes; 0 to a day, default a minute. */
  ttlLeadMs?: number;
  /** Only this session's events. */
  sessionId?: string;
  /** Only events of sessions whose labels include every one of these. */
  labels?: Record<string, string>;
}

export const eventsLimits = {
  defaultTtlLeadMs: 60_000,
  maxTtlLeadMs: 86_400_000,
} as const;

const eventsOptionsSchema = z
  .strictObject({
    signal: z.instanceof(AbortSignal).optional(),
    ttlLeadMs: z.number().int().min(0).max(eventsLimits.maxTtlLeadMs).optional(),
    sessionId: z.string().min(1).max(64).optional(),
    labels: labelsSchema.optional(),
  })
  .optional();

export interface ParsedEventsOptions {
  signal?: AbortSignal;
  ttlLeadMs: number;
  sessionId?: string;
  labels?: Record<string, string>;
}

export function parseEventsOptions(options: unknown, providerId?: string): ParsedEventsOptions {
  const parsed = safeParseInput(eventsOptionsSchema, options);
  const issues = toPolicyIssues(parsed.error, "options");
  if (issues.length > 0)
    throw new PolicyValidationError(issues, { subject: "events options", providerId });
  const { ttlLeadMs, ...rest } = parsed.data ?? {};
  return { ...rest, ttlLeadMs: ttlLeadMs ?? eventsLimits.defaultTtlLeadMs };
}
