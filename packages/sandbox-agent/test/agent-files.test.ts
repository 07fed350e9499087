import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AgentLink } from "../src/agent-link.js";
import { AgentFileError, AgentFileInterruptedError, AgentFiles } from "../src/files/agent-files.js";
import { type EntryRecord, encodeRecord, type RecordEvent } from "../src/files/records.js";
import { binary } from "./agent-process.js";

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const big = 1 << 30;

let root: string;
let child: ChildProcess;
let files: AgentFiles;
let link: AgentLink;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "cadre-agent-files-"));
  child = spawn(binary(), ["--root", root], { stdio: ["pipe", "pipe", "inherit"] });
  link = await AgentLink.open(child.stdout!, child.stdin!);
  files = new AgentFiles(link);
});
afterAll(async () => {
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
  link.close();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  for (const entry of readdirSync(root))
    rmSync(join(root, entry), { recursive: true, force: true });
});

const host = (path: string) => join(root, path);

async function failure(promise: Promise<unknown>): Promise<AgentFileError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentFileError);
  return error as AgentFileError;
}

async function read(path: string, maxBytes = big) {
  const chunks: Buffer[] = [];
  const result = await files.read(path, maxBytes, (c) => chunks.push(c));
  return { ...result, data: Buffer.concat(chunks) };
}

async function* chunked(data: Buffer, size = 100_000) {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

describe("the agent's files operations", () => {
  it("says in its greeting that it has them", () => {
    expect(link.hasFiles).toBe(true);
  });

  it("writes and reads back bytes with their SHA-256, under the root", async () => {
    const data = randomBytes(1024 * 1024 + 7);
    const written = await files.write("/data.bin", data, { maxBytes: big });
    expect(written).toEqual({ size: data.length, sha256: sha(data) });
    expect(readFileSync(host("data.bin")).equals(data)).toBe(true);
    const back = await read("/data.bin");
    expect(back.data.equals(data)).toBe(true);
    expect(back.sha256).toBe(sha(data));
  });

  it("streams a write from a source and an empty file", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    expect((await files.write("/s", chunked(data), { maxBytes: big })).sha256).toBe(sha(data));
    expect(readFileSync(host("s")).equals(data)).toBe(true);
    expect(await files.write("/empty", new Uint8Array(), { maxBytes: 0 })).toEqual({
      size: 0,
      sha256: sha(Buffer.alloc(0)),
    });
  });

  it("writes atomically: past maxBytes, or aborted, the old file stays whole and nothing is left", async () => {
    writeFileSync(host("f"), "old");
    const error = await failure(files.write("/f", randomBytes(5000), { maxBytes: 4096 }));
    expect(error.errno).toBe("EFBIG");
    const controller = new AbortController();
    async function* stalls() {
      yield randomBytes(64 * 1024);
      controller.abort();
      await new Promise(() => {}); // never more
    }
    const aborted = await files
      .write("/f", stalls(), { maxBytes: big, signal: controller.signal })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AgentFileInterruptedError);
    expect(readFileSync(host("f"), "utf8")).toBe("old");
    expect(readdirSync(root)).toEqual(["f"]);
  });

  it("fails a write whose source throws, with the source's error, leaving the file as it was", async () => {
    writeFileSync(host("f"), "old");
    async function* breaks() {
      yield Buffer.from("partial");
      throw new Error("source broke");
    }
    await expect(files.write("/f", breaks(), { maxBytes: big })).rejects.toThrow("source broke");
    expect(readFileSync(host("f"), "utf8")).toBe("old");
  });

  it("gives exactly the mode asked for, keeps an existing file's, and makes parents on request", async () => {
    await files.write("/a/b/c.sh", Buffer.from("x"), { maxBytes: 1, mode: 0o750, mkdirs: true });
    expect(statSync(host("a/b/c.sh")).mode & 0o7777).toBe(0o750);
    await files.write("/a/b/c.sh", Buffer.from("y"), { maxBytes: 1 });
    expect(statSync(host("a/b/c.sh")).mode & 0o7777).toBe(0o750);
    await files.write("/new", Buffer.from("z"), { maxBytes: 1 });
    expect(statSync(host("new")).mode & 0o7777).toBe(0o644);
    expect(
      (await failure(files.write("/no/such/dir", Buffer.from("x"), { maxBytes: 1 }))).errno,
    ).toBe("ENOENT");
    expect(
      (await failure(files.write("/new", Buffer.from("x"), { maxBytes: 1, exclusive: true })))
        .errno,
    ).toBe("EEXIST");
    expect((await failure(files.write("/a", Buffer.from("x"), { maxBytes: 1 }))).errno).toBe(
      "EISDIR",
    );
  });

  it("replaces a symbolic link at the path instead of writing through it", async () => {
    writeFileSync(host("target"), "keep");
    symlinkSync("target", host("link"));
    await files.write("/link", Buffer.from("new"), { maxBytes: 3 });
    expect(readFileSync(host("target"), "utf8")).toBe("keep");
    expect(lstatSync(host("link")).isFile()).toBe(true);
  });

  it("writes as the owner asked for", async () => {
    chmodSync(root, 0o755);
    mkdirSync(host("home"));
    chmodSync(host("home"), 0o777);
    await files.write("/home/mine", Buffer.from("x"), {
      maxBytes: 1,
      owner: { uid: 1000, gid: 1001 },
    });
    expect([statSync(host("home/mine")).uid, statSync(host("home/mine")).gid]).toEqual([
      1000, 1001,
    ]);
    // As that user, a directory only root may write to is closed.
    mkdirSync(host("closed"), { mode: 0o755 });
    expect(
      (
        await failure(
          files.write("/closed/x", Buffer.from("x"), {
            maxBytes: 1,
            owner: { uid: 1000, gid: 1000 },
          }),
        )
      ).errno,
    ).toBe("EACCES");
  });

  it("never leads out of its root: .., absolute and relative links resolve inside it", async () => {
    mkdirSync(host("etc"));
    writeFileSync(host("etc/hostname"), "inside");
    symlinkSync("/etc", host("abs"));
    symlinkSync("../../../../../etc", host("rel"));
    expect((await read("/../../../etc/hostname")).data.toString()).toBe("inside");
    expect((await read("/abs/hostname")).data.toString()).toBe("inside");
    expect((await read("/rel/hostname")).data.toString()).toBe("inside");
    symlinkSync("/proc/self/environ", host("env"));
    expect((await failure(read("/env"))).errno).toBe("ENOENT");
    await files.write("/rel/written", Buffer.from("x"), { maxBytes: 1 });
    expect(existsSync(host("etc/written"))).toBe(true);
  });

  it("refuses to read what is not a regular file, without blocking on a FIFO", async () => {
    await files.mkdir("/d", undefined, false);
    expect((await failure(read("/d"))).errno).toBe("EISDIR");
    spawn("mkfifo", [host("fifo")]);
    await waitFor(() => existsSync(host("fifo")));
    expect((await failure(read("/fifo"))).errno).toBe("ENODEV");
    writeFileSync(host("big"), randomBytes(100));
    expect((await failure(read("/big", 99))).errno).toBe("EFBIG");
    expect((await failure(read("/missing"))).errno).toBe("ENOENT");
  });

  it("lists and stats entries with kinds, modes and link targets", async () => {
    writeFileSync(host("file"), "12345", { mode: 0o640 });
    mkdirSync(host("dir"));
    symlinkSync("file", host("link"));
    const { entries, truncated } = await files.list("/", 100);
    expect(truncated).toBe(false);
    const byName = Object.fromEntries(entries.map((e) => [e.name.toString(), e]));
    expect(byName.file).toMatchObject({ kind: "file", size: 5, mode: 0o640 });
    expect(byName.dir?.kind).toBe("directory");
    expect(byName.link).toMatchObject({ kind: "symlink", link: Buffer.from("file") });
    expect((await files.stat("/link", true)).kind).toBe("file");
    expect((await files.stat("/link", false)).kind).toBe("symlink");
    expect((await files.list("/", 2)).truncated).toBe(true);
  });

  it("removes trees without following links out of them, renames and makes directories", async () => {
    mkdirSync(host("keep"));
    writeFileSync(host("keep/precious"), "x");
    mkdirSync(host("tree/a/b"), { recursive: true });
    writeFileSync(host("tree/a/b/f"), "x");
    symlinkSync("../../keep", host("tree/a/out"));
    expect((await failure(files.remove("/tree", false, false))).errno).toBe("ENOTEMPTY");
    await files.remove("/tree", true, false);
    expect(existsSync(host("tree"))).toBe(false);
    expect(readFileSync(host("keep/precious"), "utf8")).toBe("x");
    await files.remove("/tree", true, true);
    expect((await failure(files.remove("/", true, false))).errno).toBe("EBUSY");
    await files.rename("/keep", "/moved/here", true);
    expect(readFileSync(host("moved/here/precious"), "utf8")).toBe("x");
    await files.mkdir("/m/n", 0o700, true);
    expect(statSync(host("m/n")).mode & 0o7777).toBe(0o700);
    await files.mkdir("/m/n", 0o700, true);
    expect((await failure(files.mkdir("/m/n", 0o700, false))).errno).toBe("EEXIST");
  });
});

describe("the agent's tree transfers", () => {
  const rec = (
    kind: EntryRecord["kind"],
    name: string,
    extra: Partial<EntryRecord> = {},
  ): EntryRecord => ({
    kind,
    mode: kind === "directory" ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeMs: 1_700_000_000_000,
    name: Buffer.from(name),
    link: Buffer.alloc(0),
    ...extra,
  });
  function stream(entries: Array<{ record: EntryRecord; data?: Buffer }>) {
    return (async function* () {
      for (const { record, data } of entries) {
        yield encodeRecord({ ...record, size: data?.length ?? 0 });
        if (data) yield data;
      }
    })();
  }

  it("extracts files, directories and inner links, merging into what is there", async () => {
    mkdirSync(host("target/sub"), { recursive: true });
    writeFileSync(host("target/sub/old"), "old");
    const one = randomBytes(70_000);
    const result = await files.extract(
      "/target",
      stream([
        { record: rec("directory", ".") },
        { record: rec("directory", "sub", { mode: 0o750 }) },
        { record: rec("directory", "listed", { mode: 0o750 }) },
        { record: rec("file", "sub/one", { mode: 0o600 }), data: one },
        { record: rec("file", "deep/er/two"), data: Buffer.from("two") },
        { record: rec("symlink", "sub/to-one", { link: Buffer.from("one") }) },
        { record: rec("symlink", "up", { link: Buffer.from("sub/../deep") }) },
      ]),
      { maxBytes: big, maxEntries: 100 },
    );
    expect(result).toMatchObject({ entries: 7, size: one.length + 3 });
    expect(readFileSync(host("target/sub/one")).equals(one)).toBe(true);
    expect(statSync(host("target/sub/one")).mode & 0o777).toBe(0o600);
    expect(statSync(host("target/sub/one")).mtimeMs).toBe(1_700_000_000_000);
    expect(readFileSync(host("target/sub/old"), "utf8")).toBe("old");
    expect(readFileSync(host("target/deep/er/two"), "utf8")).toBe("two");
    // Directories the archive implies without listing them.
    expect(statSync(host("target/deep/er")).mode & 0o7777).toBe(0o755);
    // A directory that was there keeps its mode; one the archive lists gets the archive's.
    expect(statSync(host("target/sub")).mode & 0o7777).toBe(0o755);
    expect(statSync(host("target/listed")).mode & 0o7777).toBe(0o750);
    expect(readlinkSync(host("target/sub/to-one"))).toBe("one");
    expect(readdirSync(host("target")).sort()).toEqual(["deep", "listed", "sub", "up"]);
  });

  it.each([
    ["a name with ..", [{ record: rec("file", "a/../../escape"), data: Buffer.from("x") }]],
    ["an absolute name", [{ record: rec("file", "/etc/escape"), data: Buffer.from("x") }]],
    ["an absolute link", [{ record: rec("symlink", "l", { link: Buffer.from("/etc") }) }]],
    [
      "a link out through ..",
      [{ record: rec("symlink", "d/l", { link: Buffer.from("../../..") }) }],
    ],
  ])("refuses %s and leaves nothing of the archive behind", async (_, entries) => {
    mkdirSync(host("target"));
    const error = await failure(
      files.extract(
        "/target",
        stream([{ record: rec("file", "first"), data: Buffer.from("1") }, ...entries]),
        { maxBytes: big, maxEntries: 100 },
      ),
    );
    expect(error.errno).toBe("EXDEV");
    expect(error.entry).toBe(1);
    expect(readdirSync(host("target"))).toEqual([]);
    expect(readdirSync(root)).toEqual(["target"]);
  });

  it("removes its staging directory when it is stopped midway (abort, or a host source that failed)", async () => {
    mkdirSync(host("target"));
    const controller = new AbortController();
    async function* stops() {
      yield encodeRecord({ ...rec("file", "a"), size: 3 });
      yield Buffer.from("abc");
      yield encodeRecord({ ...rec("file", "b"), size: 1_000_000 });
      yield Buffer.alloc(1000);
      controller.abort();
      await new Promise(() => {});
    }
    const aborted = await files
      .extract("/target", stops(), { maxBytes: big, maxEntries: 10 }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AgentFileInterruptedError);
    async function* breaks() {
      yield encodeRecord({ ...rec("file", "a"), size: 3 });
      yield Buffer.from("abc");
      throw new Error("the host refused the next entry");
    }
    await expect(
      files.extract("/target", breaks(), { maxBytes: big, maxEntries: 10 }),
    ).rejects.toThrow("the host refused");
    expect(readdirSync(host("target"))).toEqual([]);
  });

  it("stops at its limits of bytes and entries, leaving nothing", async () => {
    mkdirSync(host("target"));
    const twoFiles = () =>
      stream([
        { record: rec("file", "a"), data: Buffer.alloc(10) },
        { record: rec("file", "b"), data: Buffer.alloc(10) },
      ]);
    expect(
      (await failure(files.extract("/target", twoFiles(), { maxBytes: 15, maxEntries: 10 }))).errno,
    ).toBe("EFBIG");
    expect(
      (await failure(files.extract("/target", twoFiles(), { maxBytes: 100, maxEntries: 1 }))).errno,
    ).toBe("E2BIG");
    expect(readdirSync(host("target"))).toEqual([]);
  });

  it("refuses a record stream cut short, and a file where the target has a directory", async () => {
    mkdirSync(host("target/x"), { recursive: true });
    writeFileSync(host("target/x/kept"), "kept");
    async function* cut() {
      yield encodeRecord({ ...rec("file", "y"), size: 100 });
      yield Buffer.alloc(10);
    }
    expect(
      (await failure(files.extract("/target", cut(), { maxBytes: big, maxEntries: 9 }))).errno,
    ).toBe("ENODATA");
    const error = await failure(
      files.extract(
        "/target",
        stream([{ record: rec("file", "x"), data: Buffer.from("a file") }]),
        {
          maxBytes: big,
          maxEntries: 9,
        },
      ),
    );
    expect([error.step, error.errno]).toEqual(["merge", "EISDIR"]);
    expect(readFileSync(host("target/x/kept"), "utf8")).toBe("kept");
    expect(readdirSync(host("target"))).toEqual(["x"]);
  });

  it("archives a tree: files with their bytes, directories, links; FIFOs left out and counted", async () => {
    mkdirSync(host("tree/sub"), { recursive: true });
    const data = randomBytes(200_000);
    writeFileSync(host("tree/sub/data"), data);
    symlinkSync("sub/data", host("tree/link"));
    spawn("mkfifo", [host("tree/fifo")]);
    await waitFor(() => existsSync(host("tree/fifo")));
    const records: EntryRecord[] = [];
    const chunks: Buffer[] = [];
    const summary = await files.archive(
      "/tree",
      { maxBytes: big, maxEntries: 100 },
      (event: RecordEvent) => {
        if (event.type === "record") records.push(event.record);
        else chunks.push(event.chunk);
      },
    );
    const names = records.map((r) => `${r.kind}:${r.name}`).sort();
    expect(names).toEqual([
      "directory:tree",
      "directory:tree/sub",
      "file:tree/sub/data",
      "symlink:tree/link",
    ]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(summary).toMatchObject({ entries: 4, size: data.length, sha256: sha(data), skipped: 1 });
    const tooMany = await failure(
      files.archive("/tree", { maxBytes: big, maxEntries: 2 }, () => {}),
    );
    expect(tooMany.errno).toBe("E2BIG");
    expect(
      (await failure(files.archive("/tree", { maxBytes: 10, maxEntries: 100 }, () => {}))).errno,
    ).toBe("EFBIG");
  });

  it("holds the agent back while the consumer is slow", async () => {
    writeFileSync(host("big"), randomBytes(4 * 1024 * 1024));
    let inFlight = 0;
    let most = 0;
    await files.read("/big", big, async (chunk) => {
      inFlight += chunk.length;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= chunk.length;
    });
    // The agent sends at most its window (256 KiB) ahead of what was taken.
    expect(most).toBeLessThanOrEqual(256 * 1024);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
