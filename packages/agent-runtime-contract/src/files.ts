import type { Readable } from "node:stream";
import { z } from "zod";
import { PolicyValidationError } from "./errors.js";
import { absolutePathSchema } from "./policy.js";
import { utf8Bytes } from "./size-limits.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

/**
 * The files operations of a session (contract v1 addition, `features.files`): single files as
 * bytes or streams, entries, and whole directory trees in and out as tar streams. Every path is
 * absolute inside the sandbox. Every operation runs as the session's user (or the `owner` given)
 * and can do exactly what that user's own commands could.
 */
export interface ProviderFiles {
  /** Writes a file atomically: it appears whole, or the old one stays. */
  write(
    sessionId: string,
    path: string,
    data: FileData,
    options?: WriteFileOptions,
  ): Promise<WrittenFile>;
  /** Reads a regular file into memory (at most `maxBytes`, default 64 MiB). */
  read(sessionId: string, path: string, options?: ReadFileOptions): Promise<ReadFile>;
  /** Streams a regular file; memory stays bounded whatever its size. */
  readStream(sessionId: string, path: string, options?: ReadFileOptions): Promise<FileStream>;
  stat(sessionId: string, path: string, options?: StatFileOptions): Promise<FileInfo>;
  /** The entries of a directory, sorted by name. */
  list(sessionId: string, path: string, options?: ListFilesOptions): Promise<FileInfo[]>;
  remove(sessionId: string, path: string, options?: RemoveFileOptions): Promise<void>;
  rename(sessionId: string, from: string, to: string, options?: RenameFileOptions): Promise<void>;
  mkdir(sessionId: string, path: string, options?: MkdirOptions): Promise<void>;
  /**
   * Extracts a tar stream into the directory `path`, in one transfer. The archive is checked whole
   * before anything of it appears there: an entry that would leave the directory (`..`, an
   * absolute name, a link pointing out), a hard link, a device or a FIFO fails it with
   * FILE_ERROR `unsafe-archive`, and leaves the directory as it was.
   */
  upload(sessionId: string, path: string, tar: TarSource, options?: UploadOptions): Promise<Upload>;
  /** `path` and everything below it as a tar stream. */
  download(sessionId: string, path: string, options?: DownloadOptions): Promise<Download>;
}

/** A file's bytes: text (written as UTF-8), bytes, or a stream of them (a Node Readable, a web stream). */
export type FileData = string | Uint8Array | AsyncIterable<Uint8Array | string>;
/** A tar archive, as bytes or a stream of them. */
export type TarSource = Uint8Array | AsyncIterable<Uint8Array>;

/** A numeric user and group: the image's /etc/passwd may be the tenant's by the time of the call. */
export interface FileOwner {
  uid: number;
  gid: number;
}

export interface FileCallOptions {
  /** The operation is stopped at this deadline and fails; a write leaves the old file whole. */
  timeoutMs?: number;
  /** On abort the operation is stopped and the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface WriteFileOptions extends FileCallOptions {
  /** Permission bits, exactly (no umask). Default: the existing file's, else 0o644. */
  mode?: number;
  /** Write as this user instead of the session's: the file is theirs. */
  owner?: FileOwner;
  /** Make missing parent directories (0o755). */
  mkdirs?: boolean;
  /** Fail with FILE_ERROR `exists` when the path exists. */
  exclusive?: boolean;
  /** More bytes than this fails the write, checked while streaming. Default 1 GiB. */
  maxBytes?: number;
}

export interface WrittenFile {
  path: string;
  size: number;
  /** SHA-256 of the bytes written, hex; the provider checked it against what it sent. */
  sha256: string;
}

export interface ReadFileOptions extends FileCallOptions {
  /** A larger file fails the read (FILE_ERROR `too-large`). Default 64 MiB for read, 1 GiB for readStream. */
  maxBytes?: number;
}

export interface ReadFile extends FileChecksum {
  data: Uint8Array;
}

export interface FileChecksum {
  size: number;
  /** SHA-256 of the bytes, hex, as the sandbox's agent computed it and the provider checked it. */
  sha256: string;
}

export interface FileStream {
  /** The file's bytes; it errors (with the call's typed error) if the read fails midway. */
  stream: Readable;
  /** Settles once the stream has ended: the size and checksum, or the read's typed error. */
  done: Promise<FileChecksum>;
}

export type FileType = "file" | "directory" | "symlink" | "other";

export interface FileInfo {
  /** The absolute path inside the sandbox. */
  path: string;
  name: string;
  type: FileType;
  /** Bytes of a regular file, 0 otherwise. */
  size: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** Where a symbolic link points. */
  linkTarget?: string;
}

export interface StatFileOptions extends FileCallOptions {
  /** Describe what a symbolic link points to instead of the link. Default false. */
  followSymlinks?: boolean;
}

export interface ListFilesOptions extends FileCallOptions {
  /** A directory with more entries fails (FILE_ERROR `too-large`). Default 10,000. */
  maxEntries?: number;
}

export interface RemoveFileOptions extends FileCallOptions {
  /** Remove a directory with everything in it; a link inside is removed, never followed. */
  recursive?: boolean;
  /** No error when the path does not exist. */
  force?: boolean;
}

export interface RenameFileOptions extends FileCallOptions {
  /** Make the target's missing parent directories. */
  mkdirs?: boolean;
}

export interface MkdirOptions extends FileCallOptions {
  /** Permission bits, exactly. Default 0o755. */
  mode?: number;
  /** Make missing parents too, and succeed when the directory exists. */
  parents?: boolean;
}

export interface UploadOptions extends FileCallOptions {
  /** Make the target directory and its missing parents. */
  mkdirs?: boolean;
  /** Extract as this user instead of the session's. */
  owner?: FileOwner;
  /** The archive's file bytes together, at most. Default 4 GiB. */
  maxBytes?: number;
  /** The archive's entries, at most. Default 100,000. */
  maxEntries?: number;
}

export interface Upload extends FileChecksum {
  path: string;
  /** Entries extracted (files, directories, links). */
  entries: number;
}

export interface DownloadOptions extends FileCallOptions {
  /** The files' bytes together, at most; more fails the download. Default 4 GiB. */
  maxBytes?: number;
  /** Entries, at most; more fails the download. Default 100,000. */
  maxEntries?: number;
}

export interface Download {
  /** The tar archive; its top entry is the last component of the path. */
  stream: Readable;
  done: Promise<DownloadSummary>;
}

export interface DownloadSummary extends FileChecksum {
  entries: number;
  /** Files that shrank while they were read, made up with zeros to the size announced. */
  changed: number;
  /** Devices, FIFOs and sockets, which are left out. */
  skipped: number;
}

/** The limits every provider serves, and the defaults of the options that bound a call. */
export const fileLimits = {
  /** A path, in UTF-8 bytes (PATH_MAX less its NUL). */
  maxPathBytes: 4095,
  defaultReadBytes: 64 * 1024 * 1024,
  defaultStreamBytes: 1024 * 1024 * 1024,
  defaultWriteBytes: 1024 * 1024 * 1024,
  defaultArchiveBytes: 4 * 1024 * 1024 * 1024,
  defaultArchiveEntries: 100_000,
  defaultListEntries: 10_000,
  /** Files operations one provider instance runs at once in one session; more wait their turn. */
  concurrentPerSession: 8,
} as const;

const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const entryCount = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const idNumber = z.number().int().min(0).max(4_294_967_294);
const modeBits = z.number().int().min(0).max(0o7777);

export const filePathSchema = absolutePathSchema.refine(
  (p) => utf8Bytes(p) <= fileLimits.maxPathBytes && !p.includes("\0"),
  { message: `must be at most ${fileLimits.maxPathBytes} bytes of UTF-8, without NUL` },
);

const callOptions = {
  timeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  signal: z.instanceof(AbortSignal).optional(),
};
const ownerSchema = z.strictObject({ uid: idNumber, gid: idNumber });

function isAsyncIterable(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === "function"
  );
}
const byteSource = z.custom<AsyncIterable<Uint8Array>>(isAsyncIterable, {
  message: "must be bytes (Uint8Array) or an async iterable of them (a stream)",
});

/** Every files call's option schema, by operation. */
const optionSchemas = {
  write: z.strictObject({
    ...callOptions,
    mode: modeBits.optional(),
    owner: ownerSchema.optional(),
    mkdirs: z.boolean().optional(),
    exclusive: z.boolean().optional(),
    maxBytes: byteCount.optional(),
  }),
  read: z.strictObject({ ...callOptions, maxBytes: byteCount.optional() }),
  stat: z.strictObject({ ...callOptions, followSymlinks: z.boolean().optional() }),
  list: z.strictObject({ ...callOptions, maxEntries: entryCount.optional() }),
  remove: z.strictObject({
    ...callOptions,
    recursive: z.boolean().optional(),
    force: z.boolean().optional(),
  }),
  rename: z.strictObject({ ...callOptions, mkdirs: z.boolean().optional() }),
  mkdir: z.strictObject({
    ...callOptions,
    mode: modeBits.optional(),
    parents: z.boolean().optional(),
  }),
  upload: z.strictObject({
    ...callOptions,
    mkdirs: z.boolean().optional(),
    owner: ownerSchema.optional(),
    maxBytes: byteCount.optional(),
    maxEntries: entryCount.optional(),
  }),
  download: z.strictObject({
    ...callOptions,
    maxBytes: byteCount.optional(),
    maxEntries: entryCount.optional(),
  }),
} as const;

export type FileOperation = keyof typeof optionSchemas;
export type FileOptionsOf<Op extends FileOperation> = z.output<(typeof optionSchemas)[Op]>;

const dataSchemas = {
  write: z.union([z.string(), z.instanceof(Uint8Array), byteSource]),
  upload: z.union([z.instanceof(Uint8Array), byteSource]),
};

/**
 * Validates one files call: its paths, its data (write, upload) and its options. Throws
 * POLICY_INVALID naming every bad path, before anything is sent.
 */
export function parseFileCall<Op extends FileOperation>(
  operation: Op,
  input: { paths: Record<string, unknown>; data?: unknown; options: unknown },
  providerId?: string,
): FileOptionsOf<Op> {
  const issues = Object.entries(input.paths).flatMap(([name, value]) =>
    toPolicyIssues(safeParseInput(filePathSchema, value).error, name),
  );
  if (operation === "write" || operation === "upload") {
    const schema = dataSchemas[operation as "write" | "upload"];
    issues.push(
      ...toPolicyIssues(
        safeParseInput(schema, input.data).error,
        operation === "write" ? "data" : "tar",
      ),
    );
  }
  const options = safeParseInput(optionSchemas[operation].optional(), input.options);
  issues.push(...toPolicyIssues(options.error, "options"));
  if (issues.length > 0) {
    throw new PolicyValidationError(issues, { subject: `files ${operation} request`, providerId });
  }
  return (options.data ?? {}) as FileOptionsOf<Op>;
}
