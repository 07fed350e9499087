import { constants } from "node:fs";
import {
  chmod,
  type FileHandle,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  rename,
  rm,
  symlink,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { CommandError } from "../cli/command-error.js";

/** Where an archive goes on this host: its top entry becomes `parent`/`name`. */
export interface LocalTarget {
  /** An existing directory. */
  parent: string;
  name: string;
}

export interface ExtractSummary {
  entries: number;
  bytes: number;
}

/**
 * An archive a session sent that cannot be extracted safely: an entry named outside its top, a
 * link pointing out of it, a hard link, a device or a FIFO. Nothing of it was put in place.
 */
export class UnsafeLocalArchiveError extends CommandError {
  constructor(entry: string, why: string) {
    super(
      `the archive from the session has an entry ${JSON.stringify(entry.slice(0, 200))} that ${why}; nothing was written. The session's files are the tenant's: inspect them with exec before copying them out`,
      "UNSAFE_ARCHIVE",
    );
  }
}

const openForWrite =
  constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/**
 * Extracts a tar stream that came out of a session, treating it as hostile: whatever its entries
 * say, nothing is written outside `target`. Every entry must lie under the archive's one top
 * entry, by name (no absolute names, no `..`); only files, directories and symbolic links are
 * taken, and a link only when its target, read as text from where it sits, stays under the top.
 * The archive is extracted whole into a private staging directory beside the target, where links
 * are made last so that no entry is ever written through one; only then is it moved into place:
 * renamed there when the target does not exist, or merged into an existing directory (a file or
 * link replaces a file or link; a conflict between a file and a directory fails before anything
 * moves). Permission bits are kept without setuid, setgid and sticky, directories stay writable
 * by their owner, and the files are the caller's (no owner from the archive is applied).
 */
export async function extractToLocal(
  archive: AsyncIterable<Uint8Array>,
  target: LocalTarget,
  onBytes: (count: number) => void = () => {},
): Promise<ExtractSummary> {
  const stage = await mkdtemp(join(target.parent, ".cadre-cp-"));
  try {
    const summary = await extractInto(archive, join(stage, "top"), onBytes);
    await moveIntoPlace(join(stage, "top"), join(target.parent, target.name));
    return summary;
  } finally {
    // rm never follows the links it removes.
    await rm(stage, { recursive: true, force: true });
  }
}

async function extractInto(
  archive: AsyncIterable<Uint8Array>,
  root: string,
  onBytes: (count: number) => void,
): Promise<ExtractSummary> {
  const extract = tar.extract();
  const source = Readable.from(archive, { objectMode: false });
  source.on("error", (error) => extract.destroy(error));
  source.pipe(extract);
  const links: Array<{ at: string; to: string }> = [];
  const directories: Array<{ at: string; mode: number }> = [];
  const summary: ExtractSummary = { entries: 0, bytes: 0 };
  const count = (bytes: number) => {
    summary.bytes += bytes;
    onBytes(bytes);
  };
  const writes = new Writes(writeWindow);
  // Directories made so far: each is made once, and never through a link (none exist yet).
  const made = new Set<string>();
  const ensureDirectory = async (path: string) => {
    if (made.has(path)) return;
    await mkdir(path, { recursive: true });
    made.add(path);
  };
  let top: string | undefined;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const parts = nameParts(header.name);
      top ??= parts[0];
      if (parts[0] !== top) throw new UnsafeLocalArchiveError(header.name, "lies outside its top");
      const at = join(root, ...parts.slice(1));
      const mode = (header.mode ?? 0o644) & 0o777;
      if (header.type === "directory") {
        await ensureDirectory(at);
        directories.push({ at, mode: mode | 0o700 });
      } else if (header.type === "file" || header.type === "contiguous-file") {
        await ensureDirectory(dirname(at));
        const size = header.size ?? 0;
        const mtime = header.mtime;
        if (size <= smallFile) {
          // Read whole (it is small), then written while the next entries are read.
          const body = await collect(entry, size);
          count(body.length);
          await writes.add(() => writeWhole(at, body, mode, mtime));
        } else {
          await writes.drain();
          await writeStreaming(at, entry, mode, mtime, count);
        }
      } else if (header.type === "symlink") {
        const to = header.linkname ?? "";
        if (!linkStaysUnder(parts, to)) {
          throw new UnsafeLocalArchiveError(
            header.name,
            `is a link to ${JSON.stringify(to.slice(0, 200))}, outside what is copied`,
          );
        }
        await ensureDirectory(dirname(at));
        links.push({ at, to });
      } else {
        const what =
          header.type === "link" ? "is a hard link" : `is a ${header.type ?? "entry of no type"}`;
        throw new UnsafeLocalArchiveError(header.name, `${what}, which a copy never takes`);
      }
      // Whatever the entry's body was (none for a link), it is read past before the next one.
      entry.resume();
      summary.entries++;
    }
    await writes.drain();
    if (top === undefined) throw new CommandError("the session sent an empty archive");
    // Links last: no entry above was written through one. A link where a file or directory
    // already is fails (EEXIST) rather than replacing it.
    for (const link of links) await symlink(link.to, link.at);
    for (const dir of directories.reverse()) await chmod(dir.at, dir.mode);
    return summary;
  } finally {
    await writes.drain().catch(() => {});
    source.destroy();
    extract.destroy();
  }
}

/** Files up to this size are read whole from the archive and written while it goes on. */
const smallFile = 256 * 1024;
/** Bytes of a larger file gathered before they are written. */
const writeBatch = 1024 * 1024;
/** Small files being written at once (so at most this many times smallFile in memory). */
const writeWindow = 16;

/** Up to `window` writes at once; the first failure is thrown by the next add or drain. */
class Writes {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly window: number) {}

  async add(write: () => Promise<void>): Promise<void> {
    this.check();
    while (this.running.size >= this.window) await Promise.race(this.running);
    this.check();
    const started = write().catch((error: unknown) => {
      this.failure ??= error;
    });
    this.running.add(started);
    void started.then(() => this.running.delete(started));
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

async function collect(entry: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk);
  return Buffer.concat(chunks, size);
}

/** A new file (never through a link), its exact mode and time. */
async function writeWhole(at: string, body: Buffer, mode: number, mtime?: Date): Promise<void> {
  const file = await open(at, openForWrite, 0o600);
  try {
    await file.writeFile(body);
    await finish(file, mode, mtime);
  } finally {
    await file.close();
  }
}

async function writeStreaming(
  at: string,
  entry: AsyncIterable<Buffer>,
  mode: number,
  mtime: Date | undefined,
  count: (bytes: number) => void,
): Promise<void> {
  const file = await open(at, openForWrite, 0o600);
  try {
    // The archive's chunks are small (the link's frames): gathered into one writev of up to
    // writeBatch bytes, rather than a round trip through the thread pool each.
    let batch: Buffer[] = [];
    let batched = 0;
    for await (const chunk of entry) {
      count(chunk.length);
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= writeBatch) {
        await file.writev(batch);
        batch = [];
        batched = 0;
      }
    }
    if (batch.length > 0) await file.writev(batch);
    await finish(file, mode, mtime);
  } finally {
    await file.close();
  }
}

async function finish(file: FileHandle, mode: number, mtime?: Date): Promise<void> {
  await file.chmod(mode);
  if (mtime) await file.utimes(mtime, mtime);
}

/** An entry's name as components; absolute names and `..` are refused. */
function nameParts(name: string): string[] {
  if (name.startsWith("/") || name.includes("\0")) {
    throw new UnsafeLocalArchiveError(name, "has an absolute name");
  }
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnsafeLocalArchiveError(name, "climbs out with ..");
  if (parts.length === 0) throw new UnsafeLocalArchiveError(name, "has an empty name");
  return parts;
}

/**
 * Whether a link at `parts` pointing to `to` stays under the archive's top entry (parts[0]),
 * resolved as text from the link's directory. The top itself being a link stays only when it
 * points to itself.
 */
export function linkStaysUnder(parts: readonly string[], to: string): boolean {
  if (to === "" || to.startsWith("/") || to.includes("\0")) return false;
  const resolved = parts.slice(0, -1);
  for (const part of to.split("/")) {
    if (part === "..") {
      if (resolved.length === 0) return false;
      resolved.pop();
    } else if (part !== "" && part !== ".") resolved.push(part);
  }
  return resolved.length > 0 && resolved[0] === parts[0];
}

/** Moves the staged tree to `destination`: a rename, or a merge into an existing directory. */
async function moveIntoPlace(staged: string, destination: string): Promise<void> {
  const conflicts: string[] = [];
  await findConflicts(staged, destination, conflicts);
  if (conflicts.length > 0) {
    throw new CommandError(
      `${conflicts[0]} exists as ${conflicts.length > 1 ? `one of ${conflicts.length} conflicts` : "a conflict"} (a file where the copy has a directory, or the other way round); nothing was written. Remove it or copy to another name`,
    );
  }
  await merge(staged, destination);
}

type Kind = "directory" | "other" | "none";

async function kindOf(path: string): Promise<Kind> {
  try {
    return (await lstat(path)).isDirectory() ? "directory" : "other";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "none";
    throw error;
  }
}

async function findConflicts(from: string, to: string, found: string[]): Promise<void> {
  const [source, existing] = await Promise.all([kindOf(from), kindOf(to)]);
  if (existing === "none") return;
  if ((source === "directory") !== (existing === "directory")) {
    found.push(to);
    return;
  }
  if (source !== "directory") return;
  for (const name of await readdir(from)) {
    await findConflicts(join(from, name), join(to, name), found);
  }
}

/** A rename where `to` is missing or not a directory (rename replaces a link, never follows it). */
async function merge(from: string, to: string): Promise<void> {
  if ((await kindOf(to)) !== "directory") {
    await rename(from, to);
    return;
  }
  for (const name of await readdir(from)) await merge(join(from, name), join(to, name));
}
