import { randomBytes } from "node:crypto";
import {
  type ListedPolicy,
  type SessionInfo,
  type SessionState,
  sessionLabels,
  type ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import type { ReapReason } from "./lifecycle/session-ends.js";
import { currentOwner, ownerStatus } from "./ownership.js";

/** A fresh session id: "cadre-" and 16 hex digits. Safe as a container name and a file name. */
export function newSessionId(): string {
  return `cadre-${randomBytes(8).toString("hex")}`;
}

/**
 * Whether a backend object's labels make it part of session `sessionId` of provider `providerId`:
 * the one ownership rule. An object merely named like a session, a session of another provider or
 * deployment, or one whose name and session label disagree is not one, and nothing acts on it.
 */
export function isSessionOf(
  labels: Record<string, string> | undefined,
  sessionId: string,
  providerId: string,
): boolean {
  return (
    labels?.[sessionLabels.sessionId] === sessionId && labels[sessionLabels.provider] === providerId
  );
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
  const { labels: _own, ...policyWithoutLabels } = listedPolicy(input.policy);
  const labels: Record<string, string> = {
    ...(input.policy.labels ?? {}),
    [sessionLabels.sessionId]: input.sessionId,
    [sessionLabels.provider]: input.providerId,
    [sessionLabels.owner]: input.owner ?? currentOwner(),
    [sessionLabels.createdAt]: createdAt.toISOString(),
    ...splitLabel(sessionLabels.policy, JSON.stringify(policyWithoutLabels)),
  };
  const envNames = envNamesOf(input.policy);
  if (envNames.length > 0)
    Object.assign(labels, splitLabel(sessionLabels.envNames, envNames.join(",")));
  if (input.policy.ttlMs !== undefined) labels[sessionLabels.ttl] = String(input.policy.ttlMs);
  return labels;
}

/**
 * The most bytes one label's key and value take together on every backend: containerd's limit,
 * the strictest of the engines. The caller's labels fit by the contract's size limits; the
 * provider's own long values (the policy, the env names) are split to fit.
 */
export const maxLabelBytes = 4096;

/**
 * `value` under `key`, continued under `key.1`, `key.2`, ... when key and value together are over
 * {@link maxLabelBytes}. Splits between code points, never inside one.
 */
export function splitLabel(key: string, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  let part = 0;
  let rest = value;
  do {
    const partKey = part === 0 ? key : `${key}.${part}`;
    const room = maxLabelBytes - Buffer.byteLength(partKey);
    const piece = prefixWithin(rest, room);
    out[partKey] = piece;
    rest = rest.slice(piece.length);
    part += 1;
  } while (rest.length > 0);
  return out;
}

/** The value {@link splitLabel} wrote under `key`; undefined when there is none. */
export function joinLabel(labels: Record<string, string>, key: string): string | undefined {
  const first = labels[key];
  if (first === undefined) return undefined;
  let value = first;
  for (let part = 1; labels[`${key}.${part}`] !== undefined; part += 1) {
    value += labels[`${key}.${part}`];
  }
  return value;
}

/** The longest prefix of `text` within `bytes` of UTF-8 that ends between code points. */
function prefixWithin(text: string, bytes: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    used += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** The policy without its env values: what labels and listings may hold. */
export function listedPolicy(policy: ValidatedPolicy): ListedPolicy {
  const { env: _values, ...rest } = policy;
  return rest;
}

/** The policy's env names, sorted. */
export function envNamesOf(policy: ValidatedPolicy): string[] {
  return Object.keys(policy.env ?? {}).sort();
}

/** Epoch for a created-at label that is not a date (edited by hand): listed, and reapable by age. */
const unreadableCreatedAt = new Date(0).toISOString();

/** Rebuilds a SessionInfo from backend labels; undefined when they are not a session's. */
export function sessionInfoFromLabels(
  labels: Record<string, string>,
  state: SessionState,
): SessionInfo | undefined {
  const id = labels[sessionLabels.sessionId];
  const providerId = labels[sessionLabels.provider];
  const createdLabel = labels[sessionLabels.createdAt];
  if (!id || !providerId || !createdLabel) return undefined;
  const createdMs = Date.parse(createdLabel);
  const createdAt = Number.isFinite(createdMs)
    ? new Date(createdMs).toISOString()
    : unreadableCreatedAt;
  const info: SessionInfo = {
    id,
    providerId,
    state,
    policy: listedPolicyOf(labels),
    envNames: parseEnvNames(joinLabel(labels, sessionLabels.envNames)),
    labels: userLabels(labels),
    createdAt,
    owner: labels[sessionLabels.owner] ?? "",
  };
  const ttl = Number(labels[sessionLabels.ttl]);
  const expires = Date.parse(createdAt) + ttl;
  if (Number.isFinite(ttl) && ttl > 0 && Math.abs(expires) <= maxDateMs) {
    info.expiresAt = new Date(expires).toISOString();
  }
  return info;
}

/** Largest magnitude a Date holds; beyond it toISOString() throws. */
const maxDateMs = 8.64e15;

/** The policy as a listing shows it: the policy label, with the caller's labels. */
function listedPolicyOf(labels: Record<string, string>): ListedPolicy {
  const policy = parsePolicyLabel(joinLabel(labels, sessionLabels.policy));
  const own = userLabels(labels);
  if (policy.labels === undefined && Object.keys(own).length > 0) policy.labels = own;
  return policy;
}

/**
 * The policy label as a listing shows it. A label edited by hand leaves the session listed and
 * reapable with an empty policy; env values are dropped even from a label written by an older
 * version that stored them.
 */
function parsePolicyLabel(label: string | undefined): ListedPolicy {
  try {
    const parsed: unknown = JSON.parse(label ?? "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return listedPolicy(parsed as ValidatedPolicy);
  } catch {
    return {};
  }
}

function parseEnvNames(label: string | undefined): string[] {
  if (!label) return [];
  return label
    .split(",")
    .filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    .sort();
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

/** Whether the session's TTL ran out: it is gone for callers, even before anything removed it. */
export function isExpired(info: SessionInfo, now: number): boolean {
  return info.expiresAt !== undefined && Date.parse(info.expiresAt) <= now;
}

/**
 * Whether reap() should destroy a session: its owner process is gone, its TTL ran out, or it is
 * older than `olderThanMs` when the caller asks for that.
 */
export function isReapable(info: SessionInfo, now: number, olderThanMs?: number): boolean {
  return reapReason(info, now, olderThanMs) !== undefined;
}

/** Why reap() destroys a session, or undefined when it keeps it; the first of the rules wins. */
export function reapReason(
  info: SessionInfo,
  now: number,
  olderThanMs?: number,
): ReapReason | undefined {
  if (isExpired(info, now)) return "ttl";
  if (olderThanMs !== undefined && now - Date.parse(info.createdAt) >= olderThanMs)
    return "older-than";
  return ownerStatus(info.owner) === "gone" ? "owner-gone" : undefined;
}
