import { once } from "node:events";
import { createReadStream, type Stats } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import tar from "tar-stream";

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
  const add = (header: tar.Headers) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header, (error) => (error ? reject(error) : resolve()));
    });

  const visit = async (local: string, name: string, info: Stats): Promise<void> => {
    const common = { name, mode: info.mode & 0o7777, mtime: info.mtime };
    if (info.isDirectory()) {
      await add({ ...common, type: "directory" });
      summary.entries++;
      for (const child of (await readdir(local)).sort()) {
        const at = join(local, child);
        await visit(at, `${name}/${child}`, await lstat(at));
      }
    } else if (info.isFile()) {
      // A file that shrinks or grows meanwhile fails the entry ("Size mismatch"): the archive
      // never claims bytes it does not hold.
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...common, type: "file", size: info.size }, (error) =>
          error ? reject(error) : resolve(),
        );
        const copy = async () => {
          for await (const chunk of createReadStream(local) as AsyncIterable<Buffer>) {
            summary.bytes += chunk.length;
            onBytes(chunk.length);
            if (!entry.write(chunk)) await once(entry, "drain");
          }
          entry.end();
        };
        copy().catch((error: unknown) => {
          entry.destroy(error as Error);
          reject(error);
        });
      });
      summary.entries++;
    } else if (info.isSymbolicLink()) {
      await add({ ...common, type: "symlink", linkname: await readlink(local) });
      summary.entries++;
    } else {
      summary.skipped.push(local);
    }
  };

  const done = (async () => {
    try {
      await visit(path, top, await stat(path));
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
