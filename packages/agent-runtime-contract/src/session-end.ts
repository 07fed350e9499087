/**
 * Why a session stopped running (contract v1 addition), for every provider:
 *
 * - `destroyed`: removed while it ran: `by: "owner"` for destroySession, `by: "outside"` for a
 *   removal the provider did not make (`docker rm -f`, a deleted state directory);
 * - `stopped`: a stop: `by: "owner"` for stopSession, `by: "outside"` for one the provider did not
 *   ask for (`docker stop`, or an engine that stopped it on shutdown while no event stream saw it);
 * - `ttl`: its TTL ran out (limit: ttlMs);
 * - `reaped`: reap() destroyed it because its owner process was gone (`reason: "owner-gone"`) or it
 *   was older than the caller asked (`reason: "older-than"`, limit: olderThanMs);
 * - `memory`: the whole sandbox was killed at its memory limit (limit: bytes);
 * - `engine-lost`: the engine went away under it (restarted, crashed);
 * - `agent-lost`: its first process (the agent) ended without being asked: killed from outside
 *   (`signal`, e.g. `docker kill`) or failed (`exitCode`).
 *
 * The first cause wins: a session killed at its memory limit and destroyed later ended for memory.
 */
export interface SessionEndCause {
  kind: SessionEndKind;
  /** Who stopped or removed it, for `stopped` and `destroyed`. */
  by?: "owner" | "outside";
  /** Why reap() took it, for `reaped`. */
  reason?: "owner-gone" | "older-than";
  /** The limit that ended it, in its unit (ms, bytes). */
  limit?: number;
  /** What was seen of it. */
  value?: number;
  /** The signal that ended its first process, for `agent-lost`. */
  signal?: string;
  /** Its first process's exit code, for `agent-lost`. */
  exitCode?: number;
}

export type SessionEndKind =
  | "destroyed"
  | "stopped"
  | "ttl"
  | "reaped"
  | "memory"
  | "engine-lost"
  | "agent-lost";

/** How and when a session stopped running. */
export interface SessionEnd {
  cause: SessionEndCause;
  /** ISO 8601. */
  at: string;
}

/**
 * How long getSession still answers for a removed session (state "ended", with its end), unless
 * the provider's `sessionEndRetentionMs` says otherwise. Its record is removed after that.
 */
export const defaultSessionEndRetentionMs = 3_600_000;

/** The largest `sessionEndRetentionMs` a provider takes: a week. */
export const maxSessionEndRetentionMs = 7 * 24 * 3_600_000;
