import { z } from "zod";
import type { ValidatedPolicy } from "./policy.js";
import { safeParseInput } from "./zod-issues.js";

/** running: exec works. stopped: stopped by stopSession or by its TTL. failed: the sandbox died. */
export type SessionState = "running" | "stopped" | "failed";

export interface SessionInfo {
  id: string;
  providerId: string;
  state: SessionState;
  /** The validated policy the session was started with. */
  policy: ValidatedPolicy;
  /** The caller's labels (policy.labels). */
  labels: Record<string, string>;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, when policy.ttlMs is set. */
  expiresAt?: string;
  /** Identity of the process that created the session (see ownership labels). */
  owner: string;
}

export interface SessionOptions {
  /** Aborting cancels the start; whatever was created so far is removed. */
  signal?: AbortSignal;
}

export interface SessionFilter {
  /** Sessions whose labels include every one of these. */
  labels?: Record<string, string>;
}

export interface ReapOptions {
  /** Also reap sessions of live owners that are older than this. */
  olderThanMs?: number;
}

/**
 * Labels every backend object of a session carries, so that listSessions() and reap() work from
 * the backend alone, after a crash or a restart.
 */
export const sessionLabels = {
  sessionId: "cadre.agent-runtime/session-id",
  owner: "cadre.agent-runtime/owner",
  createdAt: "cadre.agent-runtime/created-at",
  ttl: "cadre.agent-runtime/ttl",
  provider: "cadre.agent-runtime/provider",
  policy: "cadre.agent-runtime/policy",
} as const;

/** Session ids are short, lowercase and safe as container names and file names. */
export const sessionIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{2,62}$/);

export function isSessionId(value: unknown): value is string {
  return safeParseInput(sessionIdSchema, value).success;
}
