import { constants } from "node:os";
import type { AgentExecOutcome, AgentLink } from "../agent-link.js";
import { type EntryRecord, MalformedRecordError, RecordReader } from "./records.js";

/** What the result line of a files operation may take up, at most (agent/builtin.h). */
const maxResultBytes = 16 * 1024;
/**
 * A file's or an archive's bytes in flight from the agent at most: four times the agent's own
 * window, which over an engine's attach stream waited on credit more than it sent.
 */
const outputWindow = 1024 * 1024;

/** A files operation the agent carried out and that failed: errno and the step, as it said. */
export class AgentFileError extends Error {
  constructor(
    /** errno's name, e.g. "ENOENT"; "E<number>" for one Node does not know. */
    readonly errno: string,
    /** Which step failed: "locate", "open", "create", "rename", "record", "merge", ... */
    readonly step: string,
    /** The relative path inside an archive the failure concerns, when the agent named one. */
    readonly path?: Buffer,
    /** The index of the record an extraction failed on. */
    readonly entry?: number,
  ) {
    super(`the agent's files operation failed at ${step}: ${errno}`);
    this.name = "AgentFileError";
  }
}

/** The operation did not finish: its deadline ran out, or it was aborted. */
export class AgentFileInterruptedError extends Error {
  constructor(readonly timedOut: boolean) {
    super(timedOut ? "the files operation ran out of time" : "the files operation was aborted");
    this.name = "AgentFileInterruptedError";
  }
}

export interface FileCallOptions {
  /** The agent kills the operation at this deadline. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The user the operation runs as instead of the session's (numeric, never resolved by name). */
  owner?: { uid: number; gid: number };
}

export interface WriteOptions extends FileCallOptions {
  mode?: number;
  mkdirs?: boolean;
  exclusive?: boolean;
  maxBytes: number;
}

export interface Checksummed {
  size: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
}

export interface ArchiveSummary extends Checksummed {
  entries: number;
  /** Files that shrank while they were read (made up with zeros to their announced size). */
  changed: number;
  /** Entries that are not files, directories or links (devices, FIFOs, sockets): left out. */
  skipped: number;
}

/**
 * The host's side of the agent's files operations (agent/builtin.h) over one link: each is one
 * channel, run by the agent as the session's user without an exec, its data streamed both ways
 * under the link's flow control. Knows the protocol, not the contract: failures are
 * AgentFileError with the agent's errno, for the caller to map.
 */
export class AgentFiles {
  constructor(private readonly link: AgentLink) {}

  async write(path: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: WriteOptions) {
    const mode = options.mode === undefined ? "-" : options.mode.toString(8);
    const flags = `${options.mkdirs ? "p" : ""}${options.exclusive ? "x" : ""}-`;
    const result = await this.call(
      ["write", path, mode, flags, String(options.maxBytes)],
      options,
      {
        stdin: data,
      },
    );
    return checksummed(result);
  }

  /** Streams the file's bytes to `onData` (a promise it returns holds the agent back). */
  async read(
    path: string,
    maxBytes: number,
    onData: (chunk: Buffer) => unknown,
    options: FileCallOptions = {},
  ): Promise<Checksummed> {
    return checksummed(await this.call(["read", path, String(maxBytes)], options, { onData }));
  }

  async stat(
    path: string,
    followSymlinks: boolean,
    options: FileCallOptions = {},
  ): Promise<EntryRecord> {
    const records = await this.records(["stat", path, followSymlinks ? "1" : "0"], options);
    if (records.length !== 1) throw new MalformedRecordError("stat answered with no record");
    return records[0] as EntryRecord;
  }

  async list(path: string, maxEntries: number, options: FileCallOptions = {}) {
    const found: EntryRecord[] = [];
    const result = await this.call(["list", path, String(maxEntries)], options, {
      onData: recordsInto(found, maxEntries),
    });
    return { entries: found, truncated: result.truncated === "1" };
  }

  async remove(path: string, recursive: boolean, force: boolean, options: FileCallOptions = {}) {
    await this.call(["remove", path, `${recursive ? "r" : ""}${force ? "f" : ""}-`], options);
  }

  async rename(from: string, to: string, mkdirs: boolean, options: FileCallOptions = {}) {
    await this.call(["rename", from, to, mkdirs ? "p" : "-"], options);
  }

  async mkdir(
    path: string,
    mode: number | undefined,
    parents: boolean,
    options: FileCallOptions = {},
  ) {
    await this.call(
      ["mkdir", path, mode === undefined ? "-" : mode.toString(8), parents ? "p" : "-"],
      options,
    );
  }

  /** Entry records (with their files' bytes) from `records` into the directory `dir`. */
  async extract(
    dir: string,
    records: AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; maxEntries: number; mkdirs?: boolean },
    options: FileCallOptions = {},
  ): Promise<Checksummed & { entries: number }> {
    const argv = [
      "extract",
      dir,
      limits.mkdirs ? "p" : "-",
      String(limits.maxBytes),
      String(limits.maxEntries),
    ];
    const result = await this.call(argv, options, { stdin: records });
    return { ...checksummed(result), entries: count(result.entries) };
  }

  /**
   * `path` and everything below it as entry records and file bytes, handed to `onEvent` in order
   * (a promise it returns holds the agent back).
   */
  async archive(
    path: string,
    limits: { maxBytes: number; maxEntries: number },
    onEvent: (event: ReturnType<RecordReader["push"]>[number]) => unknown,
    options: FileCallOptions = {},
  ): Promise<ArchiveSummary> {
    const reader = new RecordReader(true);
    let entries = 0;
    const result = await this.call(
      ["archive", path, String(limits.maxBytes), String(limits.maxEntries)],
      options,
      {
        onData: async (chunk) => {
          for (const event of reader.push(chunk)) {
            if (event.type === "record" && ++entries > limits.maxEntries) {
              throw new MalformedRecordError("the agent sent more entries than asked for");
            }
            await onEvent(event);
          }
        },
        atEnd: () => reader.atBoundary,
      },
    );
    return {
      ...checksummed(result),
      entries: count(result.entries),
      changed: count(result.changed),
      skipped: count(result.skipped),
    };
  }

  private async records(argv: string[], options: FileCallOptions): Promise<EntryRecord[]> {
    const found: EntryRecord[] = [];
    await this.call(argv, options, { onData: recordsInto(found, 1) });
    return found;
  }

  /**
   * Runs one operation; resolves with its result fields, or rejects with AgentFileError (what the
   * agent said failed), AgentFileInterruptedError, or the link's errors.
   */
  private async call(
    argv: string[],
    options: FileCallOptions,
    io: {
      stdin?: Uint8Array | AsyncIterable<Uint8Array>;
      onData?: (chunk: Buffer) => unknown;
      atEnd?: () => boolean;
    } = {},
  ): Promise<Record<string, string>> {
    const result: Buffer[] = [];
    let resultBytes = 0;
    let dataError: unknown;
    // One chunk after the other, each taken only once its predecessor is.
    let taking: Promise<void> = Promise.resolve();
    const outcome: AgentExecOutcome = await this.link.exec({
      argv,
      env: [],
      builtin: true,
      maxOutputBytes: Number.MAX_SAFE_INTEGER,
      ...(io.onData ? { outputWindow } : {}),
      ...(io.stdin !== undefined ? { stdin: io.stdin } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.owner ? { owner: options.owner } : {}),
      onStdout: (chunk) => {
        if (dataError !== undefined) return;
        if (!io.onData) {
          dataError = new MalformedRecordError("the agent sent data an operation has none of");
          return;
        }
        taking = taking
          .then(async () => {
            if (dataError === undefined) await io.onData?.(chunk);
          })
          .catch((error: unknown) => {
            dataError ??= error;
          });
        return taking;
      },
      onStderr: (chunk) => {
        if (resultBytes < maxResultBytes)
          result.push(chunk.subarray(0, maxResultBytes - resultBytes));
        resultBytes += chunk.length;
      },
    });
    await taking;
    if (outcome.killed) throw new AgentFileInterruptedError(outcome.timedOut);
    if (outcome.startErrno !== undefined)
      throw new AgentFileError(errnoName(outcome.startErrno), "start");
    const fields = parseResult(Buffer.concat(result));
    if (outcome.exitCode === 0 && fields.ok) {
      if (dataError !== undefined) throw dataError;
      if (io.atEnd && !io.atEnd())
        throw new MalformedRecordError("the agent's records ended inside one");
      return fields.values;
    }
    if (outcome.exitCode === 1 && !fields.ok && fields.values.errno) {
      const path = fields.values.path;
      throw new AgentFileError(
        errnoName(Number(fields.values.errno)),
        fields.values.step ?? "unknown",
        path && /^([0-9a-f]{2})*$/.test(path) ? Buffer.from(path, "hex") : undefined,
        fields.values.entry !== undefined ? Number(fields.values.entry) : undefined,
      );
    }
    if (dataError !== undefined) throw dataError;
    throw new AgentFileError("EIO", `exit ${outcome.exitCode}`);
  }
}

/** An onData that decodes records into `found`, at most `most` of them. */
function recordsInto(found: EntryRecord[], most: number): (chunk: Buffer) => void {
  const reader = new RecordReader(false);
  return (chunk) => {
    for (const event of reader.push(chunk)) {
      if (event.type !== "record") continue;
      if (found.length >= most)
        throw new MalformedRecordError("the agent sent more records than asked for");
      found.push(event.record);
    }
  };
}

function parseResult(line: Buffer): { ok: boolean; values: Record<string, string> } {
  const text = line.toString("latin1").split("\n")[0] ?? "";
  const [status, ...pairs] = text.split(" ");
  const values: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at > 0) values[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { ok: status === "ok", values };
}

function checksummed(fields: Record<string, string>): Checksummed {
  const sha256 = fields.sha256 ?? "";
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw new MalformedRecordError("the agent's result has no checksum");
  return { size: count(fields.size), sha256 };
}

function count(value: string | undefined): number {
  const n = Number(value ?? "0");
  if (!Number.isSafeInteger(n) || n < 0)
    throw new MalformedRecordError("the agent's result has a bad count");
  return n;
}

export function errnoName(errno: number): string {
  return Object.entries(constants.errno).find(([, value]) => value === errno)?.[0] ?? `E${errno}`;
}
