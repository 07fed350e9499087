import type { SessionEnd, SessionEndCause, SessionInfo } from "@cadre/agent-runtime-contract";
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
