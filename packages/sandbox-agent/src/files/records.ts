/**
 * The entry records of the agent's files operations (agent/records.h): a 40-byte header, the
 * name, the link target, and for a regular file in an archive its bytes. What the agent sends is
 * as untrusted as the tenant: every length is bounded before anything is buffered.
 */
export const recordHeaderBytes = 40;
/** Longest name or link target a record carries (PATH_MAX - 1). */
export const maxRecordText = 4095;

export type RecordKind = "file" | "directory" | "symlink" | "other";

const kindCodes: Record<RecordKind, number> = {
  file: 0x66,
  directory: 0x64,
  symlink: 0x6c,
  other: 0x6f,
};
const kindOfCode = new Map(Object.entries(kindCodes).map(([k, v]) => [v, k as RecordKind]));

export interface EntryRecord {
  kind: RecordKind;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of a regular file; 0 for anything else. */
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** A name in a listing, a relative path in an archive. */
  name: Buffer;
  /** The target of a symbolic link, else empty. */
  link: Buffer;
}

/** A record the agent sent that no agent writes: the link's output cannot be trusted. */
export class MalformedRecordError extends Error {}

export function encodeRecord(record: EntryRecord): Buffer {
  if (record.name.length > maxRecordText || record.link.length > maxRecordText) {
    throw new RangeError("a record's name or link target is longer than 4095 bytes");
  }
  const header = Buffer.alloc(recordHeaderBytes);
  header.writeUInt8(kindCodes[record.kind], 0);
  header.writeUInt32LE(record.mode, 4);
  header.writeUInt32LE(record.uid, 8);
  header.writeUInt32LE(record.gid, 12);
  header.writeBigUInt64LE(BigInt(record.size), 16);
  const seconds = Math.floor(record.mtimeMs / 1000);
  header.writeBigInt64LE(BigInt(seconds), 24);
  header.writeUInt32LE(Math.round((record.mtimeMs - seconds * 1000) * 1e6) % 1e9, 32);
  header.writeUInt16LE(record.name.length, 36);
  header.writeUInt16LE(record.link.length, 38);
  return Buffer.concat([header, record.name, record.link]);
}

function decodeHeader(header: Buffer): Omit<EntryRecord, "name" | "link"> & {
  nameLength: number;
  linkLength: number;
} {
  const kind = kindOfCode.get(header.readUInt8(0));
  const size = header.readBigUInt64LE(16);
  const nameLength = header.readUInt16LE(36);
  const linkLength = header.readUInt16LE(38);
  const mode = header.readUInt32LE(4);
  const nanos = header.readUInt32LE(32);
  if (
    !kind ||
    mode > 0o7777 ||
    nanos >= 1e9 ||
    size > BigInt(Number.MAX_SAFE_INTEGER) ||
    (kind !== "file" && size !== 0n) ||
    nameLength > maxRecordText ||
    linkLength > maxRecordText ||
    (kind !== "symlink" && linkLength !== 0)
  ) {
    throw new MalformedRecordError("the agent sent an entry record no agent writes");
  }
  const seconds = Number(header.readBigInt64LE(24));
  return {
    kind,
    mode,
    uid: header.readUInt32LE(8),
    gid: header.readUInt32LE(12),
    size: Number(size),
    mtimeMs: seconds * 1000 + Math.floor(nanos / 1e6),
    nameLength,
    linkLength,
  };
}

/** What a RecordReader hands out: a record, then (`withData`) its file's bytes in chunks. */
export type RecordEvent =
  | { type: "record"; record: EntryRecord }
  | { type: "data"; chunk: Buffer; last: boolean };

/**
 * Cuts the agent's record stream into records and file data. `withData`: an archive, where a
 * file's bytes follow its record. Holds at most one header, name and link while it waits.
 */
export class RecordReader {
  private pending: Buffer = Buffer.alloc(0);
  /** File bytes still to come for the current record. */
  private dataLeft = 0;

  constructor(private readonly withData: boolean) {}

  push(chunk: Buffer): RecordEvent[] {
    const events: RecordEvent[] = [];
    let input = chunk;
    while (input.length > 0 || this.pending.length >= recordHeaderBytes) {
      if (this.dataLeft > 0) {
        const take = input.subarray(0, Math.min(input.length, this.dataLeft));
        if (take.length === 0) break;
        this.dataLeft -= take.length;
        input = input.subarray(take.length);
        events.push({ type: "data", chunk: take, last: this.dataLeft === 0 });
        continue;
      }
      this.pending = this.pending.length === 0 ? input : Buffer.concat([this.pending, input]);
      input = Buffer.alloc(0);
      if (this.pending.length < recordHeaderBytes) break;
      const head = decodeHeader(this.pending.subarray(0, recordHeaderBytes));
      const whole = recordHeaderBytes + head.nameLength + head.linkLength;
      if (this.pending.length < whole) break;
      const { nameLength, linkLength, ...fields } = head;
      const name = Buffer.from(
        this.pending.subarray(recordHeaderBytes, recordHeaderBytes + nameLength),
      );
      const link = Buffer.from(this.pending.subarray(recordHeaderBytes + nameLength, whole));
      events.push({ type: "record", record: { ...fields, name, link } });
      input = this.pending.subarray(whole);
      this.pending = Buffer.alloc(0);
      if (this.withData && fields.kind === "file" && fields.size > 0) this.dataLeft = fields.size;
    }
    return events;
  }

  /** Whether the stream ended between two records, as a whole one does. */
  get atBoundary(): boolean {
    return this.pending.length === 0 && this.dataLeft === 0;
  }
}
