import { once } from "node:events";
import { createReadStream, type Stats } from "node:fs";
import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import tar from "tar-stream";
import { inOrder } from "./in-order.js";

/** Files up to this size are read whole, a few ahead of the archive. */
const smallFile = 256 * 1024;
/** Entries looked at (and small files read) ahead of the one being archived. */
const lookAhead = 16;
/** Read size for the larger files, which stream. */
const streamChunk = 256 * 1024;

export interface PackedLocal {
  /** The archive, made as its reader takes it: memory stays bounded whatever the tree's size. */
  stream: NodeJS.ReadableStream & AsyncIterable<Buffer>;
  /** Settles once the archive is whole: what it holds, or the failure that cut it short. */
  done: Promise<PackSummary>;
}

export interface PackSummary {
  entries: number;
  bytes: number;
  /** Sockets, FIFOs and devices, which a copy leaves out (a session's upload refuses them). */
  skipped: string[];
}

/**
 * A tar archive of the local file or directory `path`, whose top entry is named `top`: files,
 * directories and symbolic links (as links, never followed below the top), with their permission
 * bits and modification times. `path` itself is followed when it is a link. Owners are not
 * recorded: the session decides whose the files are.
 */
export function packLocal(
  path: string,
  top: string,
  onBytes: (count: number) => void = () => {},
): PackedLocal {
  const pack = tar.pack();
  const summary: PackSummary = { entries: 0, bytes: 0, skipped: [] };
  const entry = (header: tar.Headers, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });

  /** A file larger than smallFile, streamed into its entry as the archive's reader takes it. */
  const streamFile = (header: tar.Headers, local: string) =>
    new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
      const copy = async () => {
        const input = createReadStream(local, { highWaterMark: streamChunk });
        for await (const chunk of input as AsyncIterable<Buffer>) {
          count(chunk.length);
          if (!sink.write(chunk)) await once(sink, "drain");
        }
        sink.end();
      };
      // A file that shrinks or grows meanwhile fails the entry ("Size mismatch"): the archive
      // never claims bytes it does not hold.
      copy().catch((error: unknown) => {
        sink.destroy(error as Error);
        reject(error);
      });
    });
  const count = (bytes: number) => {
    summary.bytes += bytes;
    onBytes(bytes);
  };

  interface Found {
    local: string;
    name: string;
    info: Stats;
    /** A small file's bytes, read ahead. */
    body?: Buffer;
  }
  const look = async (local: string, name: string, info?: Stats): Promise<Found> => {
    const stats = info ?? (await lstat(local));
    const found: Found = { local, name, info: stats };
    if (stats.isFile() && stats.size <= smallFile) found.body = await readFile(local);
    return found;
  };

  const visit = async ({ local, name, info, body }: Found): Promise<void> => {
    const common = { name, mode: info.mode & 0o7777, mtime: info.mtime };
    if (info.isDirectory()) {
      await entry({ ...common, type: "directory" });
      summary.entries++;
      const children = (await readdir(local)).sort();
      const found = inOrder(children, lookAhead, (child) =>
        look(join(local, child), `${name}/${child}`),
      );
      for await (const child of found) await visit(child);
    } else if (info.isFile()) {
      if (body && body.length === info.size) {
        await entry({ ...common, type: "file", size: body.length }, body);
        count(body.length);
      } else {
        await streamFile({ ...common, type: "file", size: info.size }, local);
      }
      summary.entries++;
    } else if (info.isSymbolicLink()) {
      await entry({ ...common, type: "symlink", linkname: await readlink(local) });
      summary.entries++;
    } else {
      summary.skipped.push(local);
    }
  };

  const done = (async () => {
    try {
      await visit(await look(path, top, await stat(path)));
      pack.finalize();
      return summary;
    } catch (error) {
      pack.destroy(error as Error);
      throw error;
    }
  })();
  // The reader learns of a failure from the stream; `done` must not also crash the process.
  done.catch(() => {});
  return { stream: pack as unknown as PackedLocal["stream"], done };
}

/** Bytes of the regular files under `path` (followed at the top only, as packLocal does). */
export async function localBytes(path: string): Promise<number> {
  const walk = async (at: string, info: Stats): Promise<number> => {
    if (info.isFile()) return info.size;
    if (!info.isDirectory()) return 0;
    let total = 0;
    for (const child of await readdir(at)) {
      const next = join(at, child);
      total += await walk(next, await lstat(next));
    }
    return total;
  };
  return walk(path, await stat(path));
}
