import type {
  SessionEnd,
  SessionEndCause,
  SessionEndKind,
  SessionInfo,
} from "@cadre/agent-runtime-contract";
import { signalForExitCode } from "../signals.js";

/**
 * How a session's sandbox stopped, as its engine tells: when, its first process's exit code or
 * signal, and whether the kernel killed it at the memory limit.
 */
export interface SandboxExit {
  /** ISO 8601, when the engine knows. */
  at?: string;
  exitCode?: number;
  signal?: string;
  oomKilled?: boolean;
}

/**
 * A session's end as kept in the backend (a "tombstone"): the session's labels, so that it is
 * still listed and filtered as the session was, its end, and until when it is kept.
 */
export interface EndRecord {
  id: string;
  labels: Record<string, string>;
  end: SessionEnd;
  /** ISO 8601; after it the record is gone for callers, and reap() removes it. */
  keepUntil: string;
  /** Why reap() removed the session, when it did. */
  reaped?: ReapReason;
}

/** Why reap() removes a session: its TTL ran out, its owner is gone, or it is older than asked. */
export type ReapReason = "ttl" | "owner-gone" | "older-than";
export const reapReasons: readonly ReapReason[] = ["ttl", "owner-gone", "older-than"];

/**
 * The labels an end record keeps beside the session's own, wherever a backend keeps it (a Docker
 * volume's, a containerd lease's), under the provider's label prefix.
 */
export const endRecordLabels = {
  /** The end, as JSON: its presence makes an object an end record. */
  end: "cadre.agent-runtime/end",
  keepUntil: "cadre.agent-runtime/keep-until",
  reaped: "cadre.agent-runtime/reaped",
} as const;

const endKinds: readonly SessionEndKind[] = [
  "destroyed",
  "stopped",
  "ttl",
  "reaped",
  "memory",
  "engine-lost",
  "agent-lost",
];
/** Longer than any signal name; a longer one is not kept. */
const maxSignalLength = 16;
/** Longer than any end a record writes. */
const maxEndTextLength = 4096;

/**
 * An end as a record keeps it (endRecordLabels.end), read back: only the contract's fields with
 * values of their types; anything else (malformed, another writer's) is no end.
 */
export function parseRecordedEnd(text: string | undefined): SessionEnd | undefined {
  if (text === undefined || text.length > maxEndTextLength) return undefined;
  try {
    return recordedEnd(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The contract's fields of an end, each of its type; undefined when it is no end. */
export function recordedEnd(value: unknown): SessionEnd | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { cause, at } = value as { cause?: unknown; at?: unknown };
  if (typeof at !== "string" || at.length > 64 || !Number.isFinite(Date.parse(at)))
    return undefined;
  if (typeof cause !== "object" || cause === null) return undefined;
  const given = cause as Record<string, unknown>;
  const kind = given.kind as SessionEndKind;
  if (!endKinds.includes(kind)) return undefined;
  const normal: SessionEndCause = { kind };
  if (given.by === "owner" || given.by === "outside") normal.by = given.by;
  if (given.reason === "owner-gone" || given.reason === "older-than") normal.reason = given.reason;
  for (const field of ["limit", "value", "exitCode"] as const) {
    const n = given[field];
    if (typeof n === "number" && Number.isFinite(n)) normal[field] = n;
  }
  if (typeof given.signal === "string" && given.signal.length <= maxSignalLength) {
    normal.signal = given.signal;
  }
  return { cause: normal, at };
}

/** A record's reap reason (endRecordLabels.reaped), when it is one. */
export function parseReapReason(text: string | undefined): ReapReason | undefined {
  return reapReasons.find((reason) => reason === text);
}

/**
 * Where a backend keeps end records, beside its sessions (a Docker volume's labels, a containerd
 * lease's, a file of the stub's), so that another instance or a later process reads them. Every
 * method acts only on this provider's records, as the backend's other methods do.
 */
export interface EndRecordStore {
  /** Writes or replaces the record of `record.id`. */
  put(record: EndRecord): Promise<void>;
  get(id: string): Promise<EndRecord | undefined>;
  /** Every record; `labels` is a hint to filter at the source. */
  list(labels?: Record<string, string>): Promise<EndRecord[]>;
  /** Resolves when there is no record of that id. */
  remove(id: string): Promise<void>;
}

/**
 * Why a sandbox that nobody here stopped is over, from its engine's account of the exit. The
 * agent, its first process, exits 0 only when stopped from outside the sandbox (a tenant cannot
 * stop it), so 0 is a stop the provider did not ask for; a signal or another code is the agent
 * lost. The memory limit's kill comes first: it is what the engine's signal was.
 */
export function endOfExit(exit: SandboxExit, info: Pick<SessionInfo, "policy">): SessionEnd {
  const at = exit.at && Number.isFinite(Date.parse(exit.at)) ? exit.at : new Date().toISOString();
  return { cause: causeOfExit(exit, info), at };
}

function causeOfExit(exit: SandboxExit, info: Pick<SessionInfo, "policy">): SessionEndCause {
  if (exit.oomKilled) {
    const limit = info.policy.memory;
    return { kind: "memory", ...(limit !== undefined ? { limit } : {}) };
  }
  const signal =
    exit.signal ?? (exit.exitCode !== undefined ? signalForExitCode(exit.exitCode) : undefined);
  if (signal) return { kind: "agent-lost", signal };
  if (exit.exitCode === 0) return { kind: "stopped", by: "outside" };
  return {
    kind: "agent-lost",
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
  };
}

/**
 * An end that happened while the engine was out of reach, as the engine reports it afterwards: a
 * stop or a kill from outside then was the engine going away (a restart stops every container);
 * an OOM kill or a failed agent stays what it was.
 */
export function asEngineLoss(end: SessionEnd): SessionEnd {
  const { cause } = end;
  const fromOutside =
    (cause.kind === "stopped" && cause.by === "outside") ||
    (cause.kind === "agent-lost" && cause.signal !== undefined);
  return fromOutside ? { cause: { kind: "engine-lost" }, at: end.at } : end;
}
