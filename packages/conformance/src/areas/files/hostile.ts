import { writeFile } from "node:fs/promises";
import type { ProviderFiles } from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectErrorCode } from "../../expect-error.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";
import { expectFileError, refusedWithoutFiles } from "./basics.js";
import { filesOf, hostCanary, scratchDir, sh, type TarEntry, tarOf, untar } from "./support.js";

const names = conformanceTestNames.filesHostile;

/** The probes of a tenant that turns the files calls against the host or the sandbox's bounds. */
export function registerFileHostileProbes(ctx: ConformanceContext): void {
  describe("hostile tenant", () => {
    const timeout = () => ctx.ms(180_000);
    let id = "";
    let files: ProviderFiles;
    beforeAll(async () => {
      id = await ctx.startShared();
    }, ctx.ms(60_000));
    const probe = (name: string, body: () => Promise<void>) =>
      it(
        name,
        async () => {
          if (await refusedWithoutFiles(ctx)) return;
          files = filesOf(ctx);
          await body();
        },
        timeout(),
      );
    afterAll(() => ctx.destroyShared(), ctx.ms(60_000));

    /** The names below `dir` and beside it, as a command lists them. */
    const snapshot = async (dir: string) =>
      (await sh(ctx, id, dir, "find . | sort; ls -A ..")).stdout;

    probe(names.archiveEscapes, async () => {
      const dir = await scratchDir(ctx, id);
      await sh(ctx, id, dir, "mkdir target && echo kept > target/kept");
      const before = await snapshot(`${dir}/target`);
      const hostile: Array<[string, TarEntry]> = [
        ["dot-dot", { name: "../escaped", data: "x" }],
        ["dot-dot midway", { name: "a/../../escaped", data: "x" }],
        ["absolute", { name: "/tmp/escaped-abs", data: "x" }],
        ["absolute link", { name: "l", type: "symlink", linkname: "/" }],
        ["link out", { name: "sub/l", type: "symlink", linkname: "../../.." }],
        ["hard link", { name: "h", type: "link", linkname: "kept" }],
        ["character device", { name: "zero", type: "character-device" }],
        ["FIFO", { name: "p", type: "fifo" }],
      ];
      for (const [what, entry] of hostile) {
        // Good entries first and after: nothing of the archive may appear.
        const archive = await tarOf([
          { name: "good-before", data: "1" },
          entry,
          { name: "good-after", data: "2" },
        ]);
        const error = await expectFileError(
          files.upload(id, `${dir}/target`, archive),
          "unsafe-archive",
        );
        expect(error.message.length, what).toBeGreaterThan(0);
      }
      expect(await snapshot(`${dir}/target`), "the target and its parent are as they were").toBe(
        before,
      );
      await expectFileError(files.stat(id, "/tmp/escaped-abs"), "not-found");
    });

    probe(names.plantedLinks, async () => {
      const canary = await hostCanary();
      try {
        const dir = await scratchDir(ctx, id);
        // Links to the host's canary directory (on the stub, "/" is the host's), to "/", and up.
        await sh(
          ctx,
          id,
          dir,
          `ln -s ${canary.path} to-host && ln -s / to-root && ln -s ../../../../../../.. up && mkdir real`,
        );
        for (const via of ["to-host", `up${canary.path}`]) {
          await files
            .write(id, `${dir}/${via}/written`, "x", { mkdirs: true })
            .catch(() => undefined);
          await files
            .upload(id, `${dir}/${via}`, await tarOf([{ name: "uploaded", data: "x" }]), {
              mkdirs: true,
            })
            .catch(() => undefined);
          await files.mkdir(id, `${dir}/${via}/made`, { parents: true }).catch(() => undefined);
          await files
            .rename(id, `${dir}/real`, `${dir}/${via}/renamed`, { mkdirs: true })
            .catch(() => undefined);
          await sh(ctx, id, dir, "mkdir -p real");
        }
        expect(await canary.isEmpty(), "nothing reached the host's directory").toBe(true);
        // Reads through the links see the sandbox's files, never the host's.
        await sh(ctx, id, dir, "echo sandbox > real/marker");
        const hostMarker = `${canary.path}/host-only`;
        await writeFile(hostMarker, "host");
        const read = await files.read(id, `${dir}/to-host/host-only`).then(
          (r) => Buffer.from(r.data).toString(),
          (e: unknown) => e,
        );
        expect(read, "a read through a link to a host path does not read the host").not.toBe(
          "host",
        );
        const listed = await files.list(id, `${dir}/to-host`).then(
          (l) => l.map((e) => e.name),
          () => [],
        );
        expect(listed).not.toContain("host-only");
        // A download of a tree with links carries the links, not what they point to.
        const { stream } = await files.download(id, dir);
        const entries = await untar(stream);
        expect(entries.filter((e) => e.name.endsWith("host-only"))).toEqual([]);
        expect(entries.find((e) => e.name.endsWith("/to-root"))?.type).toBe("symlink");
      } finally {
        await canary.remove();
      }
    });

    probe(names.swappedDirectory, async () => {
      const canary = await hostCanary();
      try {
        const dir = await scratchDir(ctx, id);
        await sh(ctx, id, dir, "mkdir -p target/sub outside");
        // A tenant flips target/sub between a directory and links out, as fast as it can, in the
        // background, until the marker goes.
        const flipper = ctx.provider.exec(
          id,
          [
            "sh",
            "-c",
            `touch flipping; while [ -e flipping ]; do mv target/sub target/sub.real 2>/dev/null; ln -s ${canary.path} target/sub 2>/dev/null; rm -f target/sub; ln -s ../outside target/sub 2>/dev/null; rm -f target/sub; mv target/sub.real target/sub 2>/dev/null; done`,
          ],
          { cwd: dir, timeoutMs: ctx.ms(120_000) },
        );
        const archive = await tarOf([
          { name: "sub/", type: "directory" },
          { name: "sub/a.txt", data: "a" },
          { name: "sub/deeper/b.txt", data: "b" },
        ]);
        for (let round = 0; round < 30; round++) {
          await files.upload(id, `${dir}/target`, archive).catch(() => undefined);
          await files.write(id, `${dir}/target/sub/w.txt`, "w").catch(() => undefined);
        }
        await files.remove(id, `${dir}/flipping`);
        await flipper;
        expect(await canary.isEmpty(), "nothing reached the host through the link").toBe(true);
        const outside = await sh(ctx, id, `${dir}/outside`, "find . -type f | sort");
        // Only a write of a whole path may follow a link the tenant put in it, as the tenant's
        // own commands would; what an upload carries stays inside its target.
        expect(
          outside.stdout.split("\n").filter((l) => l.includes(".txt") && !l.endsWith("w.txt")),
        ).toEqual([]);
      } finally {
        await canary.remove();
      }
    });

    probe(names.notAFile, async () => {
      const dir = await scratchDir(ctx, id);
      await sh(ctx, id, dir, "mkfifo fifo && ln -s /dev/zero zero");
      const started = performance.now();
      await expectFileError(files.read(id, `${dir}/fifo`), "not-a-file");
      const zero = await expectErrorCode(files.read(id, `${dir}/zero`), "FILE_ERROR");
      // The stub resolves /dev/zero inside its scratch directory, where there is none.
      expect(["not-a-file", "not-found"]).toContain((zero as { reason?: string }).reason);
      const { done } = await files.download(id, dir);
      const summary = await done;
      expect(summary.skipped, "the FIFO is left out of a download").toBeGreaterThanOrEqual(1);
      expect(performance.now() - started, "refused at once, nothing waited on").toBeLessThan(
        ctx.ms(30_000),
      );
    });

    probe(names.hugeFiles, async () => {
      const dir = await scratchDir(ctx, id);
      const made = await ctx.provider.exec(
        id,
        ["sh", "-c", "truncate -s 1T huge || dd if=/dev/zero of=huge bs=1 count=0 seek=1T"],
        { cwd: dir },
      );
      if (made.exitCode !== 0) {
        // A file system that cannot hold a sparse terabyte: the probe uses the largest it can.
        await sh(ctx, id, dir, "dd if=/dev/zero of=huge bs=1 count=0 seek=8G");
      }
      const size = (await files.stat(id, `${dir}/huge`)).size;
      expect(size).toBeGreaterThan(1024 * 1024 * 1024);
      const started = performance.now();
      await expectFileError(files.read(id, `${dir}/huge`), "too-large");
      await expectFileError(files.readStream(id, `${dir}/huge`), "too-large");
      const download = files.download(id, dir).then((d) => d.done);
      await expectFileError(download, "too-large");
      expect(performance.now() - started, "refused before the bytes moved").toBeLessThan(
        ctx.ms(30_000),
      );
    });

    probe(names.replacedBinaries, async () => {
      if (ctx.report.isolation === "none") {
        // Without a boundary the session's binaries are the host's, never replaced here; a
        // session whose PATH leads nowhere shows that files calls look no program up.
        const bare = await ctx.start(ctx.enforced("env") ? { env: { PATH: "/nonexistent" } } : {});
        const dir = await scratchDir(ctx, bare);
        await files.write(bare, `${dir}/f`, "no program needed");
        expect(Buffer.from((await files.read(bare, `${dir}/f`)).data).toString()).toBe(
          "no program needed",
        );
        return;
      }
      const own = await ctx.start();
      const dir = await scratchDir(ctx, own);
      // Every tool a files call could have leaned on now floods or hangs, where the tenant can
      // write over it (a read-only image directory is left as it is).
      await ctx.provider.exec(
        own,
        [
          "sh",
          "-c",
          'for t in cat tar sh dd cp mv rm ls; do p=$(command -v $t) || continue; [ -w "$p" ] || [ -w "$(dirname "$p")" ] || continue; rm -f "$p"; printf "#!/bin/sh\\nwhile :; do echo flood; done\\n" > "$p"; chmod +x "$p"; done; true',
        ],
        { cwd: dir, timeoutMs: ctx.ms(30_000) },
      );
      await files.write(own, `${dir}/f`, "still works");
      expect(Buffer.from((await files.read(own, `${dir}/f`)).data).toString()).toBe("still works");
      await files.upload(own, dir, await tarOf([{ name: "t/x", data: "x" }]));
      const { stream } = await files.download(own, `${dir}/t`);
      expect((await untar(stream)).map((e) => e.name).sort()).toEqual(["t", "t/x"]);
      await files.remove(own, `${dir}/t`, { recursive: true });
    });

    probe(names.oddNames, async () => {
      const dir = await scratchDir(ctx, id);
      const odd = ["new\nline", "tab\there", " lead space", "ünïcödé ✓", "-dash", "*star?"];
      const archive = await tarOf(odd.map((name) => ({ name: `odd/${name}`, data: name })));
      await files.upload(id, dir, archive);
      const listed = (await files.list(id, `${dir}/odd`)).map((e) => e.name).sort();
      expect(listed).toEqual([...odd].sort());
      const { stream } = await files.download(id, `${dir}/odd`);
      const back = await untar(stream);
      for (const name of odd) {
        expect(
          back.find((e) => e.name === `odd/${name}`)?.data.toString(),
          JSON.stringify(name),
        ).toBe(name);
      }
      for (const name of odd) {
        const path = `${dir}/odd/${name}`;
        expect(Buffer.from((await files.read(id, path)).data).toString()).toBe(name);
      }
    });
  });
}
