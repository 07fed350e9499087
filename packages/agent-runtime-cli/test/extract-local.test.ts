import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { extractToLocal, linkStaysUnder } from "../src/files/extract-local.js";
import { packLocal } from "../src/files/pack-local.js";

// What `cp ID:PATH LOCAL` does with the archive a session sends, which the tenant controls.
// The agent never names an entry with `..` (its archive is made from real paths), but a host
// must not rely on that: these archives are made here, as a hostile agent could send them.

let work: string;
let target: string;
let outside: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "cadre-extract-"));
  target = join(work, "target");
  outside = join(work, "outside");
  await mkdir(target);
  await mkdir(outside);
});
afterEach(() => rm(work, { recursive: true, force: true }));

type Entry = tar.Headers & { body?: string };

async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, body ?? "", (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

const extract = async (entries: Entry[], name = "top") =>
  extractToLocal(once(await archive(entries)), { parent: target, name });

/** Everything under `dir`, as relative paths. */
async function listing(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string, rel: string) => {
    for (const name of (await readdir(at)).sort()) {
      found.push(`${rel}${name}`);
      if ((await lstat(join(at, name))).isDirectory()) await walk(join(at, name), `${rel}${name}/`);
    }
  };
  await walk(dir, "");
  return found;
}

const dir = (name: string): Entry => ({ name, type: "directory", mode: 0o755 });
const file = (name: string, body = "x"): Entry => ({ name, type: "file", mode: 0o644, body });

describe("extractToLocal refuses a hostile archive and writes nothing", () => {
  it.each<[string, Entry[], RegExp]>([
    ["a name with ..", [dir("top"), file("top/../../escaped")], /climbs out with \.\./],
    ["an absolute name", [dir("top"), file("/tmp/escaped")], /absolute name/],
    ["a second top", [dir("top"), file("other")], /lies outside its top/],
    [
      "an absolute link",
      [dir("top"), { name: "top/etc", type: "symlink", linkname: "/etc" }],
      /is a link to "\/etc", outside what is copied/,
    ],
    [
      "a link climbing past the top",
      [dir("top"), dir("top/a"), { name: "top/a/up", type: "symlink", linkname: "../../outside" }],
      /is a link to "..\/..\/outside"/,
    ],
    [
      "a link to a sibling of the top",
      [dir("top"), { name: "top/next", type: "symlink", linkname: "../target" }],
      /outside what is copied/,
    ],
    [
      "a hard link",
      [dir("top"), file("top/a"), { name: "top/b", type: "link", linkname: "top/a" }],
      /is a hard link/,
    ],
    [
      "a device",
      [dir("top"), { name: "top/null", type: "character-device", devmajor: 1, devminor: 3 }],
      /is a character-device/,
    ],
    ["a FIFO", [dir("top"), { name: "top/pipe", type: "fifo" }], /is a fifo/],
    [
      "a file written through a link the archive made",
      [dir("top"), { name: "top/a", type: "symlink", linkname: "." }, file("top/a/x")],
      /EEXIST/,
    ],
  ])("%s", async (_what, entries, message) => {
    await expect(extract(entries)).rejects.toThrow(message);
    // Not the top, not the staging directory, nothing outside.
    expect(await readdir(target)).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("never writes through a link of the local tree it merges into", async () => {
    await mkdir(join(target, "top"));
    await symlink(outside, join(target, "top", "sub"));
    await expect(extract([dir("top"), dir("top/sub"), file("top/sub/f")])).rejects.toThrow(
      /exists as a conflict/,
    );
    expect(await readdir(outside)).toEqual([]);
    expect(await listing(target)).toEqual(["top", "top/sub"]);
  });

  it("replaces a local link with a file of the archive, and never follows it", async () => {
    await writeFile(join(outside, "victim"), "keep");
    await mkdir(join(target, "top"));
    await symlink(join(outside, "victim"), join(target, "top", "f"));
    await extract([dir("top"), file("top/f", "new")]);
    expect(await readFile(join(outside, "victim"), "utf8")).toBe("keep");
    expect(await readFile(join(target, "top", "f"), "utf8")).toBe("new");
    expect((await lstat(join(target, "top", "f"))).isFile()).toBe(true);
  });
});

describe("extractToLocal", () => {
  it("extracts files, directories and links that stay inside, under the name asked for", async () => {
    const summary = await extract(
      [
        dir("top"),
        { ...dir("top/d"), mode: 0o500 },
        { ...file("top/d/run", "#!/bin/sh\n"), mode: 0o4755 },
        { name: "top/d/self", type: "symlink", linkname: "../d/run" },
        { name: "top/here", type: "symlink", linkname: "." },
      ],
      "renamed",
    );
    expect(summary).toEqual({ entries: 5, bytes: 10 });
    expect(await listing(target)).toEqual([
      "renamed",
      "renamed/d",
      "renamed/d/run",
      "renamed/d/self",
      "renamed/here",
    ]);
    // No setuid from a tenant; directories stay the caller's to write.
    expect((await lstat(join(target, "renamed/d/run"))).mode & 0o7777).toBe(0o755);
    expect((await lstat(join(target, "renamed/d"))).mode & 0o777).toBe(0o700);
    expect(await readlink(join(target, "renamed/d/self"))).toBe("../d/run");
  });

  it("merges into an existing directory, replacing files", async () => {
    await mkdir(join(target, "top", "keep"), { recursive: true });
    await writeFile(join(target, "top", "keep", "old"), "old");
    await writeFile(join(target, "top", "f"), "before");
    await extract([dir("top"), file("top/f", "after"), dir("top/keep"), file("top/keep/new")]);
    expect(await listing(target)).toEqual([
      "top",
      "top/f",
      "top/keep",
      "top/keep/new",
      "top/keep/old",
    ]);
    expect(await readFile(join(target, "top", "f"), "utf8")).toBe("after");
  });

  it("takes back what packLocal made", async () => {
    const source = join(work, "source");
    await mkdir(join(source, "a"), { recursive: true });
    await writeFile(join(source, "a", "f"), "data");
    await symlink("a/f", join(source, "l"));
    const packed = packLocal(source, "copy");
    await extractToLocal(packed.stream, { parent: target, name: "copy" });
    expect(await packed.done).toMatchObject({ entries: 4, bytes: 4, skipped: [] });
    expect(await listing(target)).toEqual(["copy", "copy/a", "copy/a/f", "copy/l"]);
  });
});

describe("linkStaysUnder", () => {
  it.each<[string[], string, boolean]>([
    [["top", "l"], "f", true],
    [["top", "a", "l"], "../b", true],
    [["top", "l"], ".", true],
    [["top", "l"], "..", false],
    [["top", "l"], "../top/x", true],
    [["top", "l"], "../other", false],
    [["top"], "top", true],
    [["top"], "x", false],
    [["top", "l"], "/etc", false],
    [["top", "l"], "", false],
  ])("%j -> %j: %s", (parts, to, stays) => {
    expect(linkStaysUnder(parts, to)).toBe(stays);
  });
});
