import { lstat, stat } from "node:fs/promises";
import { basename, dirname, posix, resolve } from "node:path";
import {
  FileError,
  type FileInfo,
  type IsolationProvider,
  type ProviderFiles,
} from "@cadre/agent-runtime-contract";
import { CommandError } from "../cli/command-error.js";
import { extractToLocal } from "./extract-local.js";
import { localBytes, packLocal } from "./pack-local.js";
import type { TransferProgress } from "./progress-bar.js";

// `cadre-runtime cp` both ways, over the session's files API as tar streams: one archive per
// copy, a file or a whole tree, streamed (memory stays bounded whatever the size). The bench's
// files phase measures exactly these two functions.

export interface CopyOptions {
  signal?: AbortSignal;
  /** A progress display for the transfer, given its total bytes when they are known. */
  progress?: (total: number | undefined) => TransferProgress;
}

export interface CopySummary {
  entries: number;
  bytes: number;
  /** Where the copy is now: a path in the session, or on this host. */
  destination: string;
  /** Local sockets, FIFOs and devices left out of a copy into a session. */
  skipped: string[];
}

/**
 * Copies the local file or directory `local` into the session, like `docker cp`: into `path`
 * when it is a directory there, else as `path` (a file replaces a file; a directory never
 * replaces one). Links inside a directory are copied as links (the session refuses one that
 * points outside what is copied); `local` itself is followed.
 */
export async function copyIn(
  provider: IsolationProvider,
  sessionId: string,
  local: string,
  path: string,
  options: CopyOptions = {},
): Promise<CopySummary> {
  const files = filesOf(provider);
  const source = await stat(local);
  const existing = await statOrUndefined(files, sessionId, path, options.signal);
  let dir: string;
  let top: string;
  if (existing?.type === "directory") {
    dir = path;
    top = basename(resolve(local));
  } else {
    if (path.endsWith("/")) {
      throw new CommandError(
        `${path} is not a directory in session ${sessionId}; make it first, or drop the trailing /`,
      );
    }
    if (existing && source.isDirectory()) {
      throw new CommandError(
        `${path} exists in session ${sessionId} and is not a directory; a directory cannot replace it`,
      );
    }
    dir = posix.dirname(path);
    top = posix.basename(path);
  }
  const total = options.progress
    ? source.isDirectory()
      ? await localBytes(local)
      : source.size
    : undefined;
  const shown = options.progress?.(total);
  const packed = packLocal(local, top, (n) => shown?.add(n));
  try {
    const [, summary] = await Promise.all([
      files.upload(sessionId, dir, packed.stream, callOptions(options)),
      packed.done,
    ]);
    return {
      entries: summary.entries,
      bytes: summary.bytes,
      destination: posix.join(dir, top),
      skipped: summary.skipped,
    };
  } finally {
    shown?.done();
  }
}

/**
 * Copies `path` (a file or a directory) out of the session to `local`, like `docker cp`: into
 * `local` when it is a directory, else as `local` (a file replaces a file). The archive is the
 * tenant's: extractToLocal refuses what would land outside the target.
 */
export async function copyOut(
  provider: IsolationProvider,
  sessionId: string,
  path: string,
  local: string,
  options: CopyOptions = {},
): Promise<CopySummary> {
  const files = filesOf(provider);
  const name = posix.basename(path);
  if (name === "" || posix.normalize(path) === "/") {
    throw new CommandError("copy a directory below / out of a session, not / itself");
  }
  const target = await localTarget(local, name);
  const total = options.progress
    ? await files
        .stat(sessionId, path, callOptions(options))
        .then((info) => (info.type === "file" ? info.size : undefined))
    : undefined;
  const shown = options.progress?.(total);
  const { stream, done } = await files.download(sessionId, path, callOptions(options));
  try {
    const summary = await extractToLocal(stream, target, (n) => shown?.add(n));
    await done;
    return { ...summary, destination: resolve(target.parent, target.name), skipped: [] };
  } catch (error) {
    // Stops the transfer. When the transfer failed first, the stream carried its error.
    stream.destroy();
    await done.catch(() => {});
    throw error;
  } finally {
    shown?.done();
  }
}

/** The files call's options: the copy's signal, when it has one. */
function callOptions(options: CopyOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** Into an existing directory, or as its own name in an existing parent. */
async function localTarget(local: string, name: string) {
  const info = await lstat(local).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (info?.isDirectory()) return { parent: local, name };
  const parent = dirname(resolve(local));
  const parentInfo = await stat(parent).catch(() => undefined);
  if (!parentInfo?.isDirectory()) {
    throw new CommandError(`${dirname(local)} is not a directory here; make it first`);
  }
  return { parent, name: basename(resolve(local)) };
}

async function statOrUndefined(
  files: ProviderFiles,
  sessionId: string,
  path: string,
  signal: AbortSignal | undefined,
): Promise<FileInfo | undefined> {
  try {
    return await files.stat(sessionId, path, signal ? { signal } : {});
  } catch (error) {
    if (FileError.isInstance(error) && (error as FileError).reason === "not-found") {
      return undefined;
    }
    throw error;
  }
}

/** The provider's files API, or the error saying it has none. */
export function filesOf(provider: IsolationProvider): ProviderFiles {
  if (!provider.files) {
    throw new CommandError(
      `the ${provider.id} provider has no files operations (capabilities().features.files is false)`,
      "CAPABILITY_MISMATCH",
    );
  }
  return provider.files;
}
