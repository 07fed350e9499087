import type { SessionEnd, SessionInfo } from "@cadre/agent-runtime-contract";
import { sessionInfoFromLabels } from "../session-labels.js";
import type { BackendSession } from "./session-backend.js";
import { type EndRecord, type EndRecordStore, endOfExit, type ReapReason } from "./session-ends.js";

/**
 * How sessions ended, kept and read back for the lifecycle: the record a stop or a destroy writes
 * before it acts (so an engine event that follows already reads the cause), the record's end
 * before the engine's account of an exit, and records kept for `retentionMs` after a removal. A
 * backend without a record store keeps nothing: its removed sessions are not found at once, and
 * its stopped ones tell what their exit says.
 */
export class SessionEndBook {
  constructor(
    private readonly store: EndRecordStore | undefined,
    private readonly retentionMs: number,
    private readonly providerId: string,
  ) {}

  /** Why the found session does not run: its record, else its exit as the engine tells it. */
  async endOfStopped(
    id: string,
    found: BackendSession,
    info: SessionInfo,
  ): Promise<SessionEnd | undefined> {
    const record = await this.read(id);
    if (record) return record.end;
    return found.exit ? endOfExit(found.exit, info) : undefined;
  }

  /** The record of a session whose objects are gone, while it is kept. */
  async endedInfo(id: string): Promise<SessionInfo | undefined> {
    const record = await this.read(id);
    return record && this.kept(record, Date.now()) ? this.infoOf(record) : undefined;
  }

  /** Records that are kept, as listings show them. */
  async endedInfos(labels: Record<string, string> | undefined): Promise<SessionInfo[]> {
    if (!this.store) return [];
    const now = Date.now();
    return (await this.store.list(labels))
      .filter((record) => this.kept(record, now))
      .map((record) => this.infoOf(record))
      .filter((info) => info !== undefined);
  }

  /** Every record's end by session id, for a listing's sessions that do not run. */
  async endsById(): Promise<Map<string, SessionEnd>> {
    if (!this.store) return new Map();
    return new Map((await this.store.list()).map((r) => [r.id, r.end]));
  }

  async reapReason(id: string): Promise<ReapReason | undefined> {
    return (await this.read(id))?.reaped;
  }

  /**
   * Writes the session's end before it is stopped or removed. A failure to write does not stop
   * the stop or the removal: the record is what a late caller reads, not what ends the session.
   */
  async write(found: BackendSession, id: string, end: SessionEnd, reaped?: ReapReason) {
    if (!this.store) return;
    const record: EndRecord = {
      id,
      labels: found.labels,
      end,
      keepUntil: new Date(Date.now() + this.retentionMs).toISOString(),
      ...(reaped ? { reaped } : {}),
    };
    await this.store.put(record).catch((error: unknown) => {
      process.emitWarning(
        `cadre ${this.providerId}: could not keep how session ${id} ended: ${String(error)}`,
      );
    });
  }

  /** After a removal: without a retention, its record goes too. */
  async removed(id: string): Promise<void> {
    if (this.store && this.retentionMs === 0) await this.store.remove(id);
  }

  /**
   * Removes the records of removed sessions that are no longer kept, or that ended at least
   * `olderThanMs` ago when given; a record of a session that is still there stays. Returns how
   * many it removed.
   */
  async prune(
    liveIds: Set<string>,
    labels: Record<string, string> | undefined,
    olderThanMs?: number,
  ): Promise<number> {
    if (!this.store) return 0;
    const now = Date.now();
    const old = (record: EndRecord) =>
      olderThanMs !== undefined && !(now - Date.parse(record.end.at) < olderThanMs);
    const doomed = (await this.store.list(labels)).filter(
      (record) =>
        !liveIds.has(record.id) &&
        matchesAll(record.labels, labels) &&
        (!this.kept(record, now) || old(record)),
    );
    for (const record of doomed) await this.store.remove(record.id);
    return doomed.length;
  }

  private async read(id: string): Promise<EndRecord | undefined> {
    return this.store ? this.store.get(id) : undefined;
  }

  private kept(record: EndRecord, now: number): boolean {
    const until = Date.parse(record.keepUntil);
    return Number.isFinite(until) && until > now;
  }

  private infoOf(record: EndRecord): SessionInfo | undefined {
    const info = sessionInfoFromLabels(record.labels, "ended");
    if (!info || info.id !== record.id || info.providerId !== this.providerId) return undefined;
    return { ...info, end: record.end };
  }
}

function matchesAll(
  labels: Record<string, string>,
  wanted: Record<string, string> | undefined,
): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => labels[k] === v);
}
