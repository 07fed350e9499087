import { createHash } from "node:crypto";
import {
  AgentRuntimeError,
  FileError,
  type IsolationProvider,
  type ProviderFiles,
} from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, expect, it as vitestIt } from "vitest";
import { expectErrorCode, expectStartRefused } from "../../expect-error.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";
import { bytesOfSeed, filesOf, scratchDir, sh, type TarEntry, tarOf, untar } from "./support.js";

const names = conformanceTestNames.files;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A files call's FILE_ERROR, checked for its reason. */
export async function expectFileError(
  promise: Promise<unknown>,
  reason: FileError["reason"],
): Promise<FileError> {
  const error = (await expectErrorCode(promise, "FILE_ERROR")) as FileError;
  expect(error.reason, error.message).toBe(reason);
  return error;
}

/**
 * For a provider whose report says it has no files: checks that a call is refused with
 * CAPABILITY_MISMATCH (or that there is no provider.files at all), and says so. Every files test
 * starts with it, so that it asserts the refusal instead of the behaviour.
 */
export async function refusedWithoutFiles(ctx: ConformanceContext): Promise<boolean> {
  if (ctx.report.features.files) return false;
  const files = (ctx.provider as IsolationProvider).files;
  if (files) {
    const id = await ctx.start();
    await expectErrorCode(files.write(id, "/tmp/refused", "x"), "CAPABILITY_MISMATCH");
  }
  return true;
}

/** The tests of the files operations on one shared session. */
export function registerFileBasics(ctx: ConformanceContext): void {
  let id = "";
  let files: ProviderFiles;
  beforeAll(async () => {
    id = await ctx.startShared();
  }, ctx.ms(60_000));
  afterAll(() => ctx.destroyShared(), ctx.ms(60_000));
  const it = (name: string, body: () => Promise<void>, ms: number) =>
    vitestIt(
      name,
      async () => {
        if (await refusedWithoutFiles(ctx)) return;
        files = filesOf(ctx);
        await body();
      },
      ms,
    );
  const timeout = () => ctx.ms(120_000);

  it(
    names.roundTrip,
    async () => {
      const dir = await scratchDir(ctx, id);
      const every = Buffer.alloc(256 * 4096 + 7);
      for (let i = 0; i < every.length; i++) every[i] = (i * 31 + (i >> 8)) & 0xff;
      const written = await files.write(id, `${dir}/every.bin`, every);
      expect(written).toEqual({
        path: `${dir}/every.bin`,
        size: every.length,
        sha256: sha256(every),
      });
      const back = await files.read(id, `${dir}/every.bin`);
      expect(Buffer.from(back.data).equals(every), "read gives back every byte").toBe(true);
      expect([back.size, back.sha256]).toEqual([every.length, sha256(every)]);
      await files.write(id, `${dir}/text.txt`, "hello, sandbox\n");
      const seen = await sh(ctx, id, dir, "cat text.txt; wc -c < every.bin");
      expect(seen.stdout.split("\n").map((l) => l.trim())).toEqual([
        "hello, sandbox",
        String(every.length),
        "",
      ]);
      // What a command writes, a read gives back.
      await sh(ctx, id, dir, "printf 'from a command' > made.txt");
      expect(Buffer.from((await files.read(id, `${dir}/made.txt`)).data).toString()).toBe(
        "from a command",
      );
      expect((await files.write(id, `${dir}/empty`, new Uint8Array())).size).toBe(0);
      expect((await files.read(id, `${dir}/empty`)).data.length).toBe(0);
    },
    timeout(),
  );

  it(
    names.streams,
    async () => {
      const dir = await scratchDir(ctx, id);
      const { data, stream } = bytesOfSeed(8 * 1024 * 1024, 7);
      const written = await files.write(id, `${dir}/big`, stream);
      expect(written.sha256).toBe(sha256(data));
      const { stream: out, done } = await files.readStream(id, `${dir}/big`);
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of out) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect([size, hash.digest("hex")]).toEqual([data.length, sha256(data)]);
      expect(await done).toEqual({ size: data.length, sha256: sha256(data) });
      // A stream of strings is UTF-8.
      const text = (async function* () {
        yield "é";
        yield "✓\n";
      })();
      await files.write(id, `${dir}/utf8`, text);
      expect(Buffer.from((await files.read(id, `${dir}/utf8`)).data).toString()).toBe("é✓\n");
    },
    timeout(),
  );

  it(
    names.writeOptions,
    async () => {
      const dir = await scratchDir(ctx, id);
      await files.write(id, `${dir}/a/b/c/x.sh`, "#!/bin/sh\necho run\n", {
        mkdirs: true,
        mode: 0o750,
      });
      expect((await files.stat(id, `${dir}/a/b/c/x.sh`)).mode).toBe(0o750);
      expect((await files.stat(id, `${dir}/a/b`)).type).toBe("directory");
      // /tmp may be mounted noexec: the shell reads the script instead.
      const ran = await ctx.provider.exec(id, ["sh", "x.sh"], { cwd: `${dir}/a/b/c` });
      expect(ran.stdout).toBe("run\n");
      await files.write(id, `${dir}/a/b/c/x.sh`, "#!/bin/sh\necho again\n");
      expect((await files.stat(id, `${dir}/a/b/c/x.sh`)).mode, "a rewrite keeps the mode").toBe(
        0o750,
      );
      await files.write(id, `${dir}/plain`, "x");
      expect((await files.stat(id, `${dir}/plain`)).mode).toBe(0o644);
      await files.write(id, `${dir}/secret`, "x", { mode: 0o600 });
      expect((await files.stat(id, `${dir}/secret`)).mode).toBe(0o600);
      await expectFileError(files.write(id, `${dir}/plain`, "y", { exclusive: true }), "exists");
      await expectFileError(files.write(id, `${dir}/no/such/dir/f`, "y"), "not-found");
      await expectFileError(files.write(id, `${dir}/a`, "y"), "is-a-directory");
      expect(Buffer.from((await files.read(id, `${dir}/plain`)).data).toString()).toBe("x");
    },
    timeout(),
  );

  it(
    names.atomic,
    async () => {
      const dir = await scratchDir(ctx, id);
      await files.write(id, `${dir}/f`, "old");
      await expectFileError(
        files.write(id, `${dir}/f`, Buffer.alloc(4097), { maxBytes: 4096 }),
        "too-large",
      );
      const controller = new AbortController();
      const reason = new Error("caller aborted");
      const stalls = (async function* () {
        yield Buffer.alloc(300 * 1024, 1);
        controller.abort(reason);
        await new Promise(() => {});
      })();
      await expect(files.write(id, `${dir}/f`, stalls, { signal: controller.signal })).rejects.toBe(
        reason,
      );
      const breaks = (async function* () {
        yield Buffer.from("partial");
        throw new Error("the source broke");
      })();
      await expect(files.write(id, `${dir}/f`, breaks)).rejects.toThrow("the source broke");
      const timesOut = (async function* () {
        yield Buffer.from("partial");
        await new Promise((resolve) => setTimeout(resolve, ctx.ms(10_000)));
      })();
      await expectFileError(
        files.write(id, `${dir}/f`, timesOut, { timeoutMs: ctx.ms(1_000) }),
        "timed-out",
      );
      expect(
        Buffer.from((await files.read(id, `${dir}/f`)).data).toString(),
        "the old file is whole",
      ).toBe("old");
      // A write that fails leaves no temporary file (a killed one on a file system without
      // O_TMPFILE may leave a .cadre-write- name; this checks the common paths).
      const listed = (await files.list(id, dir)).map((e) => e.name);
      expect(listed).toEqual(["f"]);
    },
    timeout(),
  );

  it(
    names.entries,
    async () => {
      const dir = await scratchDir(ctx, id);
      await files.mkdir(id, `${dir}/d/e`, { parents: true, mode: 0o700 });
      await files.mkdir(id, `${dir}/d/e`, { parents: true });
      expect((await files.stat(id, `${dir}/d/e`)).mode).toBe(0o700);
      await expectFileError(files.mkdir(id, `${dir}/d/e`), "exists");
      await files.write(id, `${dir}/d/e/f.txt`, "12345");
      await sh(ctx, id, dir, "ln -s d/e/f.txt link");
      const listing = await files.list(id, dir);
      expect(listing.map((e) => [e.name, e.type])).toEqual([
        ["d", "directory"],
        ["link", "symlink"],
      ]);
      expect(listing[1]).toMatchObject({ path: `${dir}/link`, linkTarget: "d/e/f.txt" });
      expect(await files.stat(id, `${dir}/link`, { followSymlinks: true })).toMatchObject({
        type: "file",
        size: 5,
      });
      expect((await files.stat(id, `${dir}/link`)).type).toBe("symlink");
      await expectFileError(files.stat(id, `${dir}/missing`), "not-found");
      await expectFileError(files.list(id, `${dir}/d/e/f.txt`), "not-a-directory");
      await expectFileError(files.read(id, `${dir}/d`), "is-a-directory");
      await files.write(id, `${dir}/d/g`, "g");
      await expectFileError(files.list(id, `${dir}/d`, { maxEntries: 1 }), "too-large");
      await files.rename(id, `${dir}/d/g`, `${dir}/moved/here/g`, { mkdirs: true });
      expect(Buffer.from((await files.read(id, `${dir}/moved/here/g`)).data).toString()).toBe("g");
      await expectFileError(files.rename(id, `${dir}/d/nothing`, `${dir}/x`), "not-found");
      await expectFileError(files.remove(id, `${dir}/d`), "not-empty");
      await files.remove(id, `${dir}/link`);
      expect(
        Buffer.from((await files.read(id, `${dir}/d/e/f.txt`)).data).toString(),
        "removing a link keeps its target",
      ).toBe("12345");
      await files.remove(id, `${dir}/d`, { recursive: true });
      await expectFileError(files.stat(id, `${dir}/d`), "not-found");
      await expectFileError(files.remove(id, `${dir}/d`), "not-found");
      await files.remove(id, `${dir}/d`, { force: true });
      await expectFileError(files.remove(id, "/"), "busy");
    },
    timeout(),
  );

  it(
    names.trees,
    async () => {
      const dir = await scratchDir(ctx, id);
      const entries: TarEntry[] = [{ name: "tree/", type: "directory", mode: 0o755 }];
      for (let i = 0; i < 1000; i++)
        entries.push({ name: `tree/d${i % 10}/sub/f${i}.txt`, data: `file ${i}\n` });
      entries.push({ name: "tree/link", type: "symlink", linkname: "d1/sub/f1.txt" });
      const uploaded = await files.upload(id, dir, await tarOf(entries));
      expect(uploaded.entries).toBe(1002);
      const count = await sh(ctx, id, `${dir}/tree`, "find . -type f | wc -l; cat link");
      expect(count.stdout.split("\n").map((l) => l.trim())).toEqual(["1000", "file 1", ""]);
      const { stream, done } = await files.download(id, `${dir}/tree`);
      const back = await untar(stream);
      const summary = await done;
      const filesBack = back.filter((e) => e.type === "file");
      expect(filesBack).toHaveLength(1000);
      for (const entry of filesBack) {
        const n = /f(\d+)\.txt$/.exec(entry.name)?.[1];
        expect(entry.data.toString(), entry.name).toBe(`file ${n}\n`);
      }
      expect(back.find((e) => e.type === "symlink")).toMatchObject({
        name: "tree/link",
        linkname: "d1/sub/f1.txt",
      });
      expect(summary.entries).toBe(back.length);
      // Into a directory that is there: merged, what it had stays.
      await files.upload(id, `${dir}/tree`, await tarOf([{ name: "d0/new.txt", data: "new" }]));
      expect((await sh(ctx, id, `${dir}/tree/d0`, "ls | sort | tr '\\n' ' '")).stdout).toBe(
        "new.txt sub ",
      );
      // A bytes archive and a stream archive are the same to upload; mkdirs makes the target.
      const tarStream = (async function* () {
        yield await tarOf([{ name: "s.txt", data: "streamed" }]);
      })();
      await files.upload(id, `${dir}/made/by/upload`, tarStream, { mkdirs: true });
      expect(
        Buffer.from((await files.read(id, `${dir}/made/by/upload/s.txt`)).data).toString(),
      ).toBe("streamed");
    },
    timeout(),
  );

  it(
    names.badInput,
    async () => {
      const dir = await scratchDir(ctx, id);
      const bad = async (call: Promise<unknown>, path: string) => {
        const error = await expectErrorCode(call, "POLICY_INVALID");
        expect(error.message, error.message).toContain(path);
      };
      await bad(files.write(id, "relative/path", "x"), "path");
      await bad(files.write(id, `${dir}/../escape`, "x"), "path");
      await bad(files.write(id, `${dir}/\0nul`, "x"), "path");
      await bad(files.write(id, `/${"a".repeat(4095)}`, "x"), "path");
      await bad(files.write(id, `${dir}/f`, 42 as never), "data");
      await bad(files.write(id, `${dir}/f`, "x", { mode: 0o10000 }), "options.mode");
      await bad(files.write(id, `${dir}/f`, "x", { mode: -1 }), "options.mode");
      await bad(
        files.write(id, `${dir}/f`, "x", { owner: { uid: 4_294_967_295, gid: 0 } }),
        "options.owner.uid",
      );
      await bad(
        files.write(id, `${dir}/f`, "x", { maxBytes: Number.MAX_SAFE_INTEGER + 2 }),
        "options.maxBytes",
      );
      await bad(files.read(id, `${dir}/f`, { maxBytes: -1 }), "options.maxBytes");
      await bad(files.list(id, dir, { maxEntries: 0 }), "options.maxEntries");
      await bad(files.read(id, `${dir}/f`, { timeoutMs: 0 }), "options.timeoutMs");
      await bad(files.read(id, `${dir}/f`, { unknown: true } as never), "options");
      await bad(files.upload(id, dir, "not a tar" as never), "tar");
      // The largest numbers the schema allows are served.
      await files.write(id, `${dir}/f`, "x", {
        maxBytes: Number.MAX_SAFE_INTEGER,
        timeoutMs: 2_147_483_647,
        mode: 0o7777 & ~0o7000,
      });
      expect((await files.read(id, `${dir}/f`, { maxBytes: Number.MAX_SAFE_INTEGER })).size).toBe(
        1,
      );
      const { done } = await files.download(id, dir, {
        maxBytes: Number.MAX_SAFE_INTEGER,
        maxEntries: Number.MAX_SAFE_INTEGER,
      });
      expect((await done).entries).toBe(2);
      // A session id that is not one is SESSION_NOT_FOUND, before anything else.
      await expectErrorCode(files.read("not-a-session", `${dir}/f`), "SESSION_NOT_FOUND");
    },
    timeout(),
  );
}

/** What a session's policy does to its files: a read-only root, the session's user. */
export function registerFilePolicies(ctx: ConformanceContext): void {
  const timeout = () => ctx.ms(120_000);

  vitestIt(
    names.readOnly,
    async () => {
      if (await refusedWithoutFiles(ctx)) return;
      if (!ctx.enforced("readOnlyRootfs")) {
        await expectStartRefused(ctx, ctx.policy({ readOnlyRootfs: true }), "CAPABILITY_MISMATCH");
        return;
      }
      const files = filesOf(ctx);
      const id = await ctx.start({ readOnlyRootfs: true });
      const dir = await scratchDir(ctx, id);
      await expectFileError(files.write(id, "/cadre-read-only-probe", "x"), "read-only");
      await expectFileError(files.mkdir(id, "/cadre-read-only-dir"), "read-only");
      await expectFileError(
        files.upload(id, "/", await tarOf([{ name: "x", data: "x" }])),
        "read-only",
      );
      // The writable scratch /tmp stays writable.
      await files.write(id, `${dir}/ok`, "x");
      expect((await files.read(id, `${dir}/ok`)).size).toBe(1);
    },
    timeout(),
  );

  vitestIt(
    names.sessionUser,
    async () => {
      if (await refusedWithoutFiles(ctx)) return;
      const files = filesOf(ctx);
      let id: string;
      if (ctx.enforced("user")) {
        // Numeric, so that any image serves: the agent needs no entry in its /etc/passwd.
        id = await ctx.start({ user: "1000:1000" });
        const dir = await scratchDir(ctx, id);
        await files.write(id, `${dir}/mine`, "x");
        expect(await files.stat(id, `${dir}/mine`)).toMatchObject({ uid: 1000, gid: 1000 });
        await sh(ctx, id, dir, "touch made-by-command");
        expect((await files.stat(id, `${dir}/made-by-command`)).uid).toBe(1000);
        // What the user's own commands may not write, its files calls may not either.
        await expectFileError(files.write(id, "/etc/cadre-not-yours", "x"), "permission-denied");
      } else {
        await expectStartRefused(ctx, ctx.policy({ user: "1000:1000" }), "CAPABILITY_MISMATCH");
        id = await ctx.start();
      }
      const dir = await scratchDir(ctx, id);
      // The owner asked for: the file is theirs, or the provider cannot take another user here
      // (the stub run by someone other than root) and says so.
      const owned = await files
        .write(id, `${dir}/owned`, "x", { owner: { uid: 4321, gid: 4322 } })
        .then(
          () => "written",
          (error: unknown) => error,
        );
      if (owned === "written") {
        expect(await files.stat(id, `${dir}/owned`)).toMatchObject({ uid: 4321, gid: 4322 });
        const tar = await tarOf([{ name: "t/u", data: "u" }]);
        await files.upload(id, dir, tar, { owner: { uid: 4321, gid: 4322 } });
        expect(await files.stat(id, `${dir}/t/u`)).toMatchObject({ uid: 4321, gid: 4322 });
      } else {
        expect(FileError.isInstance(owned) && owned.reason, String(owned)).toBe(
          "permission-denied",
        );
      }
    },
    timeout(),
  );
}

/** Files calls on sessions that no longer run. */
export function registerFileSessionErrors(ctx: ConformanceContext): void {
  vitestIt(
    names.sessionErrors,
    async () => {
      if (await refusedWithoutFiles(ctx)) return;
      const files = filesOf(ctx);
      const id = await ctx.start();
      await files.write(id, "/tmp/before-stop", "x");
      await ctx.provider.stopSession(id);
      await expectErrorCode(files.read(id, "/tmp/before-stop"), "SESSION_NOT_RUNNING");
      await expectErrorCode(files.write(id, "/tmp/after-stop", "x"), "SESSION_NOT_RUNNING");
      await ctx.destroy(id);
      await expectErrorCode(files.read(id, "/tmp/before-stop"), "SESSION_NOT_FOUND");
      await expectErrorCode(files.list(id, "/tmp"), "SESSION_NOT_FOUND");
    },
    ctx.ms(120_000),
  );
}

/**
 * A provider without files refuses every call, whether it has provider.files or not; one with
 * files has provider.files.
 */
export function registerFilesUnsupported(ctx: ConformanceContext): void {
  vitestIt(
    names.unsupported,
    async () => {
      const files = (ctx.provider as IsolationProvider).files;
      if (ctx.report.features.files) {
        expect(files, "features.files is true, so provider.files must be there").toBeDefined();
        return;
      }
      if (!files) return;
      const id = await ctx.start();
      const calls: Array<Promise<unknown>> = [
        files.write(id, "/tmp/x", "x"),
        files.read(id, "/tmp/x"),
        files.list(id, "/tmp"),
        files.upload(id, "/tmp", new Uint8Array(1024)),
      ];
      for (const call of calls) {
        const error = await expectErrorCode(call, "CAPABILITY_MISMATCH");
        expect(AgentRuntimeError.isInstance(error)).toBe(true);
      }
    },
    ctx.ms(60_000),
  );
}
