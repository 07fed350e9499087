import { BackendError, FileError, type ResourceLimitError } from "@cadre/agent-runtime-contract";
import {
  AgentFileError,
  AgentFileInterruptedError,
  type EntryRecord,
  MalformedRecordError,
  RecordReader,
} from "@cadre/agent-runtime-sandbox-agent";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { ArchiveLimitError, fileCallError, UnsafeArchiveError } from "../src/files/file-errors.js";
import { SessionSlots } from "../src/files/session-slots.js";
import { linkStaysInside, recordsFromTar } from "../src/files/tar-in.js";
import { TarWriter } from "../src/files/tar-out.js";

type Entry = { header: tar.Headers; data?: string };

function archive(entries: Entry[]): tar.Pack {
  const pack = tar.pack();
  for (const { header, data } of entries) pack.entry(header, data ?? undefined);
  pack.finalize();
  return pack;
}

async function records(entries: Entry[], limits = { maxBytes: 1e9, maxEntries: 1000 }) {
  const reader = new RecordReader(true);
  const found: Array<{ record: EntryRecord; data: string }> = [];
  for await (const chunk of recordsFromTar(archive(entries), limits)) {
    for (const event of reader.push(Buffer.from(chunk))) {
      if (event.type === "record") found.push({ record: event.record, data: "" });
      else (found.at(-1) as { data: string }).data += event.chunk.toString();
    }
  }
  expect(reader.atBoundary).toBe(true);
  return found;
}

describe("a tar upload as the agent's records", () => {
  it("carries files with their bytes, directories and inner links, with modes and times", async () => {
    const mtime = new Date(1_700_000_000_000);
    const found = await records([
      { header: { name: "d", type: "directory", mode: 0o750, mtime } },
      { header: { name: "d/f.txt", mode: 0o640, mtime }, data: "hello" },
      { header: { name: "d/link", type: "symlink", linkname: "f.txt" } },
    ]);
    expect(found.map((f) => [f.record.kind, f.record.name.toString(), f.data])).toEqual([
      ["directory", "d", ""],
      ["file", "d/f.txt", "hello"],
      ["symlink", "d/link", ""],
    ]);
    expect(found[0]?.record).toMatchObject({ mode: 0o750, mtimeMs: 1_700_000_000_000 });
    expect(found[2]?.record.link.toString()).toBe("f.txt");
  });

  it.each([
    ["a name with ..", { name: "../escape" }],
    ["a name climbing out midway", { name: "a/../../escape" }],
    ["an absolute name", { name: "/etc/passwd" }],
    ["a hard link", { name: "h", type: "link" as const, linkname: "d/f.txt" }],
    ["a FIFO", { name: "p", type: "fifo" as const }],
    [
      "a character device",
      { name: "c", type: "character-device" as const, devmajor: 1, devminor: 3 },
    ],
    ["an absolute link", { name: "l", type: "symlink" as const, linkname: "/etc" }],
    ["a link out through ..", { name: "d/l", type: "symlink" as const, linkname: "../../x" }],
  ])("refuses %s, naming the entry", async (_, header) => {
    const error = await records([
      { header: { name: "ok", type: "file" }, data: "1" },
      { header },
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as UnsafeArchiveError).entry).toBe(header.name);
  });

  it("stops at its limits of entries and bytes while reading", async () => {
    const two = [
      { header: { name: "a" }, data: "0123456789" },
      { header: { name: "b" }, data: "0123456789" },
    ];
    await expect(records(two, { maxBytes: 1e9, maxEntries: 1 })).rejects.toBeInstanceOf(
      ArchiveLimitError,
    );
    await expect(records(two, { maxBytes: 15, maxEntries: 10 })).rejects.toBeInstanceOf(
      ArchiveLimitError,
    );
    expect(await records(two, { maxBytes: 20, maxEntries: 2 })).toHaveLength(2);
  });

  it("refuses a name longer than the agent takes", async () => {
    const long = `${"a/".repeat(2100)}x`;
    await expect(records([{ header: { name: long }, data: "" }])).rejects.toBeInstanceOf(
      UnsafeArchiveError,
    );
  });

  it.each([
    ["f", "g", true],
    ["d/l", "../f", true],
    ["d/l", "../../f", false],
    ["d/e/l", "../../f", true],
    ["l", "a/../../b", false],
    ["l", "", false],
    ["l", "/abs", false],
    ["l", "./././x", true],
  ])("judges a link at %s to %s: inside %s", (name, target, inside) => {
    expect(linkStaysInside(name, target)).toBe(inside);
  });
});

describe("an archive from the agent as a tar stream", () => {
  it("writes records and file bytes as tar entries a tar reader reads back", async () => {
    const writer = new TarWriter();
    const record = (kind: EntryRecord["kind"], name: string, size = 0, link = ""): EntryRecord => ({
      kind,
      mode: kind === "directory" ? 0o755 : 0o640,
      uid: 1000,
      gid: 1000,
      size,
      mtimeMs: 1_700_000_000_000,
      name: Buffer.from(name),
      link: Buffer.from(link),
    });
    const read = (async () => {
      const extract = tar.extract();
      writer.stream.pipe(extract);
      const seen: string[] = [];
      for await (const entry of extract) {
        let body = "";
        for await (const chunk of entry) body += chunk.toString();
        const h = entry.header;
        seen.push(
          `${h.type}:${h.name}:${h.mode?.toString(8)}:${h.uid}:${h.linkname ?? ""}:${body}`,
        );
      }
      return seen;
    })();
    await writer.push({ type: "record", record: record("directory", "top") });
    await writer.push({ type: "record", record: record("file", "top/f", 6) });
    await writer.push({ type: "data", chunk: Buffer.from("abc"), last: false });
    await writer.push({ type: "data", chunk: Buffer.from("def"), last: true });
    await writer.push({ type: "record", record: record("file", "top/empty") });
    await writer.push({ type: "record", record: record("symlink", "top/l", 0, "f") });
    writer.end();
    expect(await read).toEqual([
      "directory:top:755:1000::",
      "file:top/f:640:1000::abcdef",
      "file:top/empty:640:1000::",
      "symlink:top/l:640:1000:f:",
    ]);
  });
});

describe("files operations per session", () => {
  it("run at most the limit at once, and a freed slot goes to the first waiter", async () => {
    const slots = new SessionSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: Array<() => void> = [];
    const work = (n: number) =>
      slots.run("s", async () => {
        running++;
        most = Math.max(most, running);
        order.push(n);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      });
    const all = [1, 2, 3, 4].map(work);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2]);
    gates.shift()?.();
    // A newcomer in the same tick does not overtake the waiters.
    const late = work(5);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2, 3]);
    while (gates.length > 0 || order.length < 5) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...all, late]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    // Other sessions have slots of their own.
    await slots.run("t", async () => {});
  });
});

describe("a files operation's errors, as the contract's", () => {
  const context = { providerId: "p", operation: "write", path: "/x", signal: undefined };

  it.each([
    ["ENOENT", "not-found"],
    ["EEXIST", "exists"],
    ["EACCES", "permission-denied"],
    ["EROFS", "read-only"],
    ["EFBIG", "too-large"],
    ["ENODEV", "not-a-file"],
    ["EIO", "failed"],
  ])("%s is FILE_ERROR %s, with the path and what to do", (errno, reason) => {
    const error = fileCallError(new AgentFileError(errno, "open"), context) as FileError;
    expect(FileError.isInstance(error)).toBe(true);
    expect([error.code, error.reason, error.path, error.errno]).toEqual([
      "FILE_ERROR",
      reason,
      "/x",
      errno,
    ]);
  });

  it("is RESOURCE_LIMIT disk when the session ran out of room", () => {
    const error = fileCallError(
      new AgentFileError("ENOSPC", "write"),
      context,
    ) as ResourceLimitError;
    expect([error.code, error.resource]).toEqual(["RESOURCE_LIMIT", "disk"]);
  });

  it("is unsafe-archive when an extraction refused an entry, naming which", () => {
    const error = fileCallError(new AgentFileError("EXDEV", "record", undefined, 2), {
      ...context,
      operation: "upload",
    }) as FileError;
    expect([error.reason, error.message.includes("entry 3")]).toEqual(["unsafe-archive", true]);
    const host = fileCallError(
      new UnsafeArchiveError("../x", "names a path outside the target"),
      context,
    );
    expect((host as FileError).reason).toBe("unsafe-archive");
  });

  it("is the caller's reason on abort, timed-out at the deadline, BACKEND_ERROR for a broken agent", () => {
    const controller = new AbortController();
    controller.abort(new Error("mine"));
    const aborted = fileCallError(new AgentFileInterruptedError(false), {
      ...context,
      signal: controller.signal,
    });
    expect(aborted).toBe(controller.signal.reason);
    expect((fileCallError(new AgentFileInterruptedError(true), context) as FileError).reason).toBe(
      "timed-out",
    );
    expect(BackendError.isInstance(fileCallError(new MalformedRecordError("x"), context))).toBe(
      true,
    );
  });

  it("passes the contract's own errors through", () => {
    const error = new FileError("busy", "/", "no");
    expect(fileCallError(error, context)).toBe(error);
  });
});
