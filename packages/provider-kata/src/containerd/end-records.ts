import { isSessionId, sessionLabels } from "@cadre/agent-runtime-contract";
import {
  type EndRecord,
  type EndRecordStore,
  isSessionOf,
  joinLabel,
  parseReapReason,
  parseRecordedEnd,
  recordedEnd,
  endRecordLabels as sharedRecordLabels,
  splitLabel,
} from "@cadre/agent-runtime-provider-utils";
import { providerId } from "../capabilities.js";
import { wrapBackendError } from "../errors.js";
import type { ContainerdClient } from "./client.js";
import { isAlreadyExists, isNotFound } from "./grpc-errors.js";
import type { Lease } from "./messages.js";

/** The labels of an end record's lease (beside the session's own, under `sessionLabelPrefix`). */
export const endRecordLabels = {
  ...sharedRecordLabels,
  /** Each of the session's labels, under this prefix. */
  sessionLabelPrefix: "cadre.agent-runtime/session-label/",
} as const;

/**
 * containerd's own label: its garbage collector deletes a lease whose time has passed (RFC 3339).
 * It applies to leases: the GC's root scan skips an expired lease and its sweep deletes it
 * (core/metadata/gc.go, scanRoots and remove of ResourceLease; "When to expire the lease. The
 * garbage collector will delete the lease after expiration", docs/garbage-collection.md), as
 * test/end-records.test.ts sees on the containerd it runs against.
 */
const gcExpireLabel = "containerd.io/gc.expire";

const endSuffix = "-ended";
/**
 * The session's labels that buildSessionLabels splits to fill containerd's 4096 bytes per label:
 * under the longer prefixed key they are joined and split again, and back when read.
 */
const splitKeys = [sessionLabels.policy, sessionLabels.envNames] as const;

/** The lease that holds session `id`'s end record. */
export function endRecordLease(id: string): string {
  return `${id}${endSuffix}`;
}

/** Whether a lease is an end record (well formed or not): it carries the end label. */
export function isEndRecordLease(lease: Pick<Lease, "labels">): boolean {
  return lease.labels?.[endRecordLabels.end] !== undefined;
}

/** The session's labels kept in an end record's lease labels, as the session carried them. */
export function recordedSessionLabels(
  leaseLabels: Record<string, string> | undefined,
): Record<string, string> {
  const prefix = endRecordLabels.sessionLabelPrefix;
  const { rest, joined } = joinSplitLabels(
    Object.fromEntries(
      Object.entries(leaseLabels ?? {})
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, value]) => [key.slice(prefix.length), value]),
    ),
  );
  const labels = { ...rest };
  for (const [key, value] of Object.entries(joined)) Object.assign(labels, splitLabel(key, value));
  return labels;
}

/** The session's labels under the record's prefix, each within containerd's size. */
function prefixedSessionLabels(labelsOfSession: Record<string, string>): Record<string, string> {
  const prefix = endRecordLabels.sessionLabelPrefix;
  const { rest, joined } = joinSplitLabels(labelsOfSession);
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(rest)) labels[`${prefix}${key}`] = value;
  for (const [key, value] of Object.entries(joined)) {
    Object.assign(labels, splitLabel(`${prefix}${key}`, value));
  }
  return labels;
}

/** The split labels' values joined, and the other labels as they are. */
function joinSplitLabels(labels: Record<string, string>): {
  rest: Record<string, string>;
  joined: Record<string, string>;
} {
  const rest = { ...labels };
  const joined: Record<string, string> = {};
  for (const key of splitKeys) {
    const value = joinLabel(rest, key);
    if (value === undefined) continue;
    joined[key] = value;
    delete rest[key];
    for (let part = 1; rest[`${key}.${part}`] !== undefined; part += 1)
      delete rest[`${key}.${part}`];
  }
  return { rest, joined };
}

/**
 * Ended sessions' records as containerd leases, `<id>-ended`, that hold no resource (so they keep
 * nothing from the garbage collector) and whose labels are the record: the session's labels
 * (never env values) each under `sessionLabelPrefix`, the end as small JSON, keepUntil, and why
 * reap() took it. containerd keeps them beside the sessions, so every instance and every later
 * process reads them, and a lease costs no process. The prefix keeps the session's labels from
 * making the record look like one of the session's objects to a search by label (leak checks),
 * and a tenant's label from being one containerd acts on. A lease is this provider's record only
 * when its name and its labels agree on the session; anything malformed (written by another
 * process) is read as no record, never as an error.
 *
 * Decided: each record also carries `containerd.io/gc.expire` at keepUntil (rounded up to the
 * second, never before it), so containerd's garbage collector deletes the records nobody reaps
 * (no process that calls reap() may be left) instead of letting leases pile up in its metadata.
 * The cost: the record of a session that is stopped but not removed goes too once kept past its
 * retention, and that session's end then reads from its task, as without a record;
 * EndRecord.keepUntil already says the record is gone for callers by then.
 */
export class ContainerdEndRecords implements EndRecordStore {
  constructor(private readonly client: ContainerdClient) {}

  async put(record: EndRecord): Promise<void> {
    const labels = leaseLabelsOf(record);
    const lease = endRecordLease(record.id);
    try {
      // Leases cannot be updated: a record is replaced by deleting it and creating it anew. Two
      // writers of one session's record may cross; the loser tries again, a few times at most.
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.client.createLease(lease, labels);
          return;
        } catch (error) {
          if (!isAlreadyExists(error) || attempt === 3) throw error;
        }
        const held = await this.client.listLeases([`id=="${lease}"`]);
        if (held.some((other) => other.id === lease && !isRecordOf(other, record.id))) {
          throw new Error(`the lease ${lease} is there and is not this provider's record`);
        }
        await this.deleteLease(lease);
      }
    } catch (error) {
      throw wrapBackendError(error, `keep the end of session ${record.id}`, this.client.address);
    }
  }

  async get(id: string): Promise<EndRecord | undefined> {
    if (!isSessionId(id)) return undefined;
    const lease = await this.lease(id);
    return lease ? recordOf(lease) : undefined;
  }

  async list(wanted: Record<string, string> = {}): Promise<EndRecord[]> {
    const prefix = endRecordLabels.sessionLabelPrefix;
    // One filter: its selectors are ANDed. A value that needs quoting is left to the check below.
    const selectors = [
      `labels."${endRecordLabels.end}"`,
      `labels."${prefix}${sessionLabels.provider}"==${providerId}`,
      ...Object.entries(wanted)
        .filter(([key, value]) => plain(key) && plain(value))
        .map(([key, value]) => `labels."${prefix}${key}"==${value}`),
    ];
    let leases: Lease[];
    try {
      leases = await this.client.listLeases([selectors.join(",")]);
    } catch (error) {
      throw wrapBackendError(error, "list ended sessions", this.client.address);
    }
    return leases.flatMap((lease) => {
      const record = recordOf(lease);
      const matches =
        record && Object.entries(wanted).every(([key, value]) => record.labels[key] === value);
      return record && matches ? [record] : [];
    });
  }

  async remove(id: string): Promise<void> {
    if (!isSessionId(id)) return;
    const lease = await this.lease(id);
    // Only this provider's record of that session, well formed or not.
    if (!lease || !isRecordOf(lease, id)) return;
    try {
      await this.deleteLease(lease.id);
    } catch (error) {
      throw wrapBackendError(error, `remove the end of session ${id}`, this.client.address);
    }
  }

  private async lease(id: string): Promise<Lease | undefined> {
    const name = endRecordLease(id);
    try {
      const leases = await this.client.listLeases([`id=="${name}"`]);
      return leases.find((lease) => lease.id === name && isEndRecordLease(lease));
    } catch (error) {
      throw wrapBackendError(error, `read the end of session ${id}`, this.client.address);
    }
  }

  private async deleteLease(name: string): Promise<void> {
    try {
      await this.client.deleteLease(name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Whether a lease is this provider's record of session `id`, well formed or not. */
function isRecordOf(lease: Lease, id: string): boolean {
  return (
    isEndRecordLease(lease) && isSessionOf(recordedSessionLabels(lease.labels), id, providerId)
  );
}

/** The lease labels of a record; throws for a record that could not be read back. */
function leaseLabelsOf(record: EndRecord): Record<string, string> {
  // Only the contract's fields are written, so a record stays small.
  const end = recordedEnd(record.end);
  const keepUntil = Date.parse(record.keepUntil);
  if (!isSessionId(record.id) || !end || !Number.isFinite(keepUntil)) {
    throw new TypeError(`not an end record of a session: ${JSON.stringify(record.id)}`);
  }
  const labels = prefixedSessionLabels(record.labels);
  labels[endRecordLabels.end] = JSON.stringify(end);
  labels[endRecordLabels.keepUntil] = record.keepUntil;
  labels[gcExpireLabel] = rfc3339Seconds(Math.ceil(keepUntil / 1000) * 1000);
  if (record.reaped) labels[endRecordLabels.reaped] = record.reaped;
  return labels;
}

/** A lease's record when it is this provider's well-formed record of the session it names. */
function recordOf(lease: Lease): EndRecord | undefined {
  const id = lease.id.endsWith(endSuffix) ? lease.id.slice(0, -endSuffix.length) : "";
  if (!isSessionId(id)) return undefined;
  const all = lease.labels ?? {};
  const labels = recordedSessionLabels(all);
  if (!isSessionOf(labels, id, providerId)) return undefined;
  const end = parseRecordedEnd(all[endRecordLabels.end]);
  const keepUntil = all[endRecordLabels.keepUntil];
  if (!end || keepUntil === undefined || !Number.isFinite(Date.parse(keepUntil))) return undefined;
  const reaped = parseReapReason(all[endRecordLabels.reaped]);
  return { id, labels, end, keepUntil, ...(reaped ? { reaped } : {}) };
}

/**
 * A label key or value that a containerd filter takes as it is: no quote, separator or operator,
 * and no leading "/" or "|" (those open a quoted value there).
 */
function plain(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(text);
}

function rfc3339Seconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
