import { z } from "zod";
import type { ValidatedPolicy } from "./policy.js";
import type { SessionEnd } from "./session-end.js";
import { safeParseInput } from "./zod-issues.js";

/**
 * running: exec works. stopped: stopped by stopSession or from outside. failed: the sandbox died.
 * ended: removed; getSession still tells how it ended for a while (contract v1 addition), and
 * listSessions shows it when asked with `includeEnded`.
 */
export type SessionState = "running" | "stopped" | "failed" | "ended";

export interface SessionInfo {
  id: string;
  providerId: string;
  state: SessionState;
  /**
   * The validated policy the session was started with, without `env`: an env var is where a
   * token goes, so values never reach labels or listings. `envNames` lists the names.
   */
  policy: ListedPolicy;
  /** Names of the policy's env vars, sorted; their values are never listed. */
  envNames: string[];
  /** The caller's labels (policy.labels). */
  labels: Record<string, string>;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, when policy.ttlMs is set. */
  expiresAt?: string;
  /** Identity of the process that created the session (see ownership labels). */
  owner: string;
  /**
   * Why and when it stopped running, when it does not run and the provider knows (contract v1
   * addition). Always there for state "ended".
   */
  end?: SessionEnd;
}

/** A policy as listings show it: everything but the env values. */
export type ListedPolicy = Omit<ValidatedPolicy, "env">;

export interface SessionOptions {
  /** Aborting cancels the start; whatever was created so far is removed. */
  signal?: AbortSignal;
}

export interface SessionFilter {
  /** Sessions whose labels include every one of these. */
  labels?: Record<string, string>;
  /** Also list removed sessions whose end is still kept (state "ended"). */
  includeEnded?: boolean;
}

export interface ReapOptions {
  /** Also reap sessions of live owners that are older than this. */
  olderThanMs?: number;
  /**
   * Also remove the end records of removed sessions that ended at least this long ago (records
   * past the provider's retention are removed anyway).
   */
  endedOlderThanMs?: number;
  /** Only sessions and end records whose labels include every one of these. */
  labels?: Record<string, string>;
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
  /** The validated policy as JSON, without env. */
  policy: "cadre.agent-runtime/policy",
  /** The policy's env names, comma separated (names are letters, digits and _). */
  envNames: "cadre.agent-runtime/env-names",
} as const;

/** Session ids are short, lowercase and safe as container names and file names. */
export const sessionIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{2,62}$/);

export function isSessionId(value: unknown): value is string {
  return safeParseInput(sessionIdSchema, value).success;
}
