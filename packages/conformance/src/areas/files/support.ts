import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { ExecResult, ProviderFiles } from "@cadre/agent-runtime-contract";
import tar from "tar-stream";
import { expect } from "vitest";
import type { ConformanceContext } from "../../suite-context.js";

/** The provider's files; the report said it has them. */
export function filesOf(ctx: ConformanceContext): ProviderFiles {
  const files = ctx.provider.files;
  expect(files, "features.files is true, so provider.files must be there").toBeDefined();
  return files as ProviderFiles;
}

/**
 * A fresh directory of the test's own in the session's /tmp, which every provider has writable
 * (the stub's is in its scratch directory). Commands reach it as their working directory.
 */
export async function scratchDir(ctx: ConformanceContext, id: string): Promise<string> {
  const dir = `/tmp/${ctx.token("files")}`;
  await filesOf(ctx).mkdir(id, dir, { parents: true });
  return dir;
}

/** A shell script run in `cwd` of the session; its result, which must have exited 0. */
export async function sh(
  ctx: ConformanceContext,
  id: string,
  cwd: string,
  script: string,
): Promise<ExecResult> {
  const result = await ctx.provider.exec(id, ["sh", "-c", script], {
    cwd,
    timeoutMs: ctx.ms(60_000),
  });
  expect(result.exitCode, `${script}\n${result.stderr}`).toBe(0);
  return result;
}

export interface TarEntry {
  name: string;
  type?: tar.Headers["type"];
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
}

/** A tar archive of `entries`, as bytes. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { name, type, data, linkname, mode } of entries) {
    const header: tar.Headers = { name, type: type ?? "file" };
    if (linkname !== undefined) header.linkname = linkname;
    if (mode !== undefined) header.mode = mode;
    if (type === "character-device" || type === "block-device") {
      header.devmajor = 1;
      header.devminor = 3;
    }
    if ((type ?? "file") === "file")
      pack.entry(header, typeof data === "string" ? Buffer.from(data) : (data ?? Buffer.alloc(0)));
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface UntarredEntry {
  name: string;
  type: string;
  data: Buffer;
  linkname?: string;
  mode?: number;
}

/** The entries of a tar stream, read whole. */
export async function untar(
  stream: Readable | AsyncIterable<Uint8Array>,
): Promise<UntarredEntry[]> {
  const extract = tar.extract();
  const feeding = (async () => {
    for await (const chunk of stream) {
      if (!extract.write(chunk as Buffer))
        await new Promise((resolve) => extract.once("drain", resolve));
    }
    extract.end();
  })();
  const entries: UntarredEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { header } = entry;
    const out: UntarredEntry = {
      name: header.name,
      type: header.type ?? "file",
      data: Buffer.concat(chunks),
    };
    if (header.linkname) out.linkname = header.linkname;
    if (header.mode !== undefined) out.mode = header.mode;
    entries.push(out);
  }
  await feeding;
  return entries;
}

/** A directory on the test's host that no files call may ever touch; `isEmpty` checks it. */
export async function hostCanary(): Promise<{
  path: string;
  isEmpty(): Promise<boolean>;
  remove(): Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), "cadre-canary-"));
  return {
    path,
    isEmpty: async () => (await readdir(path)).length === 0,
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** An async iterable of `total` bytes in `chunk`-sized pieces, the same bytes each time for `seed`. */
export function bytesOfSeed(
  total: number,
  seed: number,
  chunk = 256 * 1024,
): { data: Buffer; stream: AsyncIterable<Uint8Array> } {
  const data = Buffer.alloc(total);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < total; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return {
    data,
    stream: (async function* () {
      for (let at = 0; at < total; at += chunk) yield data.subarray(at, at + chunk);
    })(),
  };
}
