import { randomBytes } from "node:crypto";
import {
  type SessionInfo,
  type SessionState,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import { currentOwner, ownerStatus } from "./ownership.js";

/** A fresh session id: "cadre-" and 16 hex digits. Safe as a container name and a file name. */
export function newSessionId(): string {
  return `cadre-${randomBytes(8).toString("hex")}`;
}

export interface SessionLabelInput {
  sessionId: string;
  providerId: string;
  policy: ValidatedPolicy;
  createdAt?: Date;
  owner?: string;
}

/** The labels every backend object of a session carries: the caller's, then the provider's own. */
export function buildSessionLabels(input: SessionLabelInput): Record<string, string> {
  const createdAt = input.createdAt ?? new Date();
  const labels: Record<string, string> = {
    ...(input.policy.labels ?? {}),
    [sessionLabels.sessionId]: input.sessionId,
    [sessionLabels.provider]: input.providerId,
    [sessionLabels.owner]: input.owner ?? currentOwner(),
    [sessionLabels.createdAt]: createdAt.toISOString(),
    [sessionLabels.policy]: JSON.stringify(input.policy),
  };
  if (input.policy.ttlMs !== undefined) labels[sessionLabels.ttl] = String(input.policy.ttlMs);
  return labels;
}

/** Rebuilds a SessionInfo from backend labels; undefined when they are not a session's. */
export function sessionInfoFromLabels(
  labels: Record<string, string>,
  state: SessionState,
): SessionInfo | undefined {
  const id = labels[sessionLabels.sessionId];
  const providerId = labels[sessionLabels.provider];
  const createdAt = labels[sessionLabels.createdAt];
  if (!id || !providerId || !createdAt) return undefined;
  let policy: ValidatedPolicy = {};
  try {
    policy = JSON.parse(labels[sessionLabels.policy] ?? "{}") as ValidatedPolicy;
  } catch {
    // A label edited by hand: the session is still listed and reapable.
  }
  const ttl = Number(labels[sessionLabels.ttl]);
  const info: SessionInfo = {
    id,
    providerId,
    state,
    policy,
    labels: userLabels(labels),
    createdAt,
    owner: labels[sessionLabels.owner] ?? "",
  };
  if (Number.isFinite(ttl) && ttl > 0) {
    info.expiresAt = new Date(Date.parse(createdAt) + ttl).toISOString();
  }
  return info;
}

function userLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter(([k]) => !k.startsWith("cadre.agent-runtime/")),
  );
}

export function matchesLabels(
  info: SessionInfo,
  wanted: Record<string, string> | undefined,
): boolean {
  if (!wanted) return true;
  return Object.entries(wanted).every(([k, v]) => info.labels[k] === v);
}

/**
 * Whether reap() should destroy a session: its owner process is gone, its TTL ran out, or it is
 * older than `olderThanMs` when the caller asks for that.
 */
export function isReapable(info: SessionInfo, now: number, olderThanMs?: number): boolean {
  if (info.expiresAt && Date.parse(info.expiresAt) <= now) return true;
  if (olderThanMs !== undefined && now - Date.parse(info.createdAt) >= olderThanMs) return true;
  return ownerStatus(info.owner) === "gone";
}
