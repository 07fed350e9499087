import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TopRow } from "../../src/cli/sessions-top.js";
import { assertBuilt, runCli, runCliWithStdin } from "./cli.js";

/** An engine the shell's living-session commands are tested on. */
export interface LivingSessionEngine {
  /** e.g. "the stub", "docker (runc)". */
  name: string;
  /** `sessions start`'s flags that choose the provider and policy (a label of this run among them). */
  startArgs: () => string[];
  /** `sessions list`'s flags that choose the provider. */
  listArgs: () => string[];
  /** The label every session of this run carries. */
  label: readonly [string, string];
  env?: () => NodeJS.ProcessEnv;
  /** A directory of the session where its user may write, as the files API names it (/tmp). */
  scratch: string;
  /**
   * The same directory as its commands name it: the same path in a sandbox; relative to the
   * working directory for the stub, whose commands are host processes in its scratch root.
   */
  scratchInCommands: string;
}

interface ListedSession {
  id: string;
  owner: string;
  labels: Record<string, string>;
}

/**
 * The commands that work with a living session from the shell, each in a process of its own as a
 * user would run them: `sessions start` then `exec`, `cp` both ways (a tree of a few thousand
 * files, a 100 MB file, a tenant's hostile links), `sessions reap` leaving the session alone, and
 * `sessions destroy`, after which the session's keeper exits. No time is asserted.
 */
export function describeLivingSession(engine: LivingSessionEngine): void {
  describe(`a living session on ${engine.name}`, () => {
    const env = () => engine.env?.() ?? {};
    let work: string;
    let id: string;

    const cli = (args: string[]) => runCli(args, env());
    const sessionsOfThisRun = async (): Promise<ListedSession[]> => {
      const list = await cli(["sessions", "list", ...engine.listArgs(), "--json"]);
      expect(list.code, list.stderr).toBe(0);
      const [key, value] = engine.label;
      return (JSON.parse(list.stdout) as ListedSession[]).filter((s) => s.labels[key] === value);
    };
    const inSession = async (script: string) => {
      const result = await cli(["exec", id, "--", "sh", "-c", script]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };

    beforeAll(async () => {
      assertBuilt();
      work = await mkdtemp(join(tmpdir(), "cadre-cli-living-"));
    });
    afterAll(async () => {
      // Whatever happened above, nothing of this run stays.
      for (const left of await sessionsOfThisRun()) {
        await cli(["sessions", "destroy", ...engine.listArgs(), left.id]);
      }
      expect(await sessionsOfThisRun()).toEqual([]);
      await rm(work, { recursive: true, force: true });
    });

    it("sessions start prints the id alone; its keeper owns it, so reap leaves it", async () => {
      const started = await cli(["sessions", "start", ...engine.startArgs()]);
      expect(started.code, started.stderr).toBe(0);
      expect(started.stdout).toMatch(/^cadre-[0-9a-f]{16}\n$/);
      id = started.stdout.trim();
      const [listed] = await sessionsOfThisRun();
      expect(listed?.id).toBe(id);
      const keeper = keeperPid(listed!);
      expect(started.stderr).toContain(`kept by process ${keeper}`);
      expect(isRunning(keeper)).toBe(true);
      // The process that ran `sessions start` is gone; the session is not an orphan.
      const reaped = await cli(["sessions", "reap", ...engine.listArgs(), "--json"]);
      expect(JSON.parse(reaped.stdout).reaped).not.toContainEqual(expect.objectContaining({ id }));
      expect((await sessionsOfThisRun()).map((s) => s.id)).toEqual([id]);
    });

    it("exec exits with the command's code, streams stdout and stderr apart, forwards stdin", async () => {
      const failed = await cli(["exec", id, "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
      expect(failed.code).toBe(7);
      expect(failed.stdout).toBe("out\n");
      expect(failed.stderr).toContain("err\n");
      const input = randomBytes(1024 * 1024);
      const hashed = await runCliWithStdin(["exec", id, "--", "sha256sum"], input, env());
      expect(hashed.code, hashed.stderr).toBe(0);
      expect(hashed.stdout.split(/\s/)[0]).toBe(sha256(input));
      const withEnv = await cli([
        "exec",
        "-e",
        "GREETING=hi",
        id,
        "--",
        "sh",
        "-c",
        "echo $GREETING",
      ]);
      expect(withEnv.stdout).toBe("hi\n");
    });

    it("sessions top reads what the session uses from the host, and names one that is not there", async () => {
      const top = await cli([
        "sessions",
        "top",
        ...engine.listArgs(),
        id,
        "--count",
        "2",
        "--interval",
        "250ms",
        "--json",
      ]);
      expect(top.code, top.stderr).toBe(0);
      const readings = top.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as TopRow[]);
      expect(readings).toHaveLength(2);
      for (const rows of readings) {
        expect(rows.map((r) => r.stats.sessionId)).toEqual([id]);
        expect(rows[0]!.stats.memoryBytes).toBeGreaterThan(0);
        expect(rows[0]!.stats.pids).toBeGreaterThanOrEqual(1);
      }
      // CPU use is a difference: from the second reading on, where the provider counts CPU time.
      if (readings[1]![0]!.stats.cpuSeconds !== undefined) {
        expect(readings[1]![0]!.cpuPercent).toBeGreaterThanOrEqual(0);
      }
      const table = await cli(["sessions", "top", ...engine.listArgs(), id, "--count", "1"]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^ID\s+PROVIDER\s+CPU%/);
      expect(table.stdout).toContain(id);
      const missing = await cli([
        "sessions",
        "top",
        ...engine.listArgs(),
        "cadre-0000000000000000",
        "--count",
        "1",
      ]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("SESSION_NOT_FOUND");
    });

    it("cp copies a tree of a few thousand files in and out unchanged", async () => {
      const tree = join(work, "tree");
      await makeTree(tree, 3000);
      const into = await cli(["cp", tree, `${id}:${engine.scratch}`]);
      expect(into.code, into.stderr).toBe(0);
      expect(await inSession(`find ${engine.scratchInCommands}/tree -type f | wc -l`)).toMatch(
        /^\s*3000\n$/,
      );
      const out = join(work, "out");
      await mkdir(out);
      const back = await cli(["cp", `${id}:${engine.scratch}/tree`, out]);
      expect(back.code, back.stderr).toBe(0);
      expect(await treeDigest(join(out, "tree"))).toEqual(await treeDigest(tree));
      // Again, into the same place: merged, the files replaced.
      const again = await cli(["cp", `${id}:${engine.scratch}/tree`, out]);
      expect(again.code, again.stderr).toBe(0);
      expect(await treeDigest(join(out, "tree"))).toEqual(await treeDigest(tree));
      expect((await readdir(out)).sort()).toEqual(["tree"]);
    }, 300_000);

    it("cp copies a 100 MB file in and out unchanged", async () => {
      const big = join(work, "big.bin");
      await writeFile(big, randomBytes(100 * 1000 * 1000));
      const into = await cli(["cp", big, `${id}:${engine.scratch}/copied.bin`]);
      expect(into.code, into.stderr).toBe(0);
      const back = join(work, "back.bin");
      const out = await cli(["cp", `${id}:${engine.scratch}/copied.bin`, back]);
      expect(out.code, out.stderr).toBe(0);
      expect(await fileSha256(back)).toBe(await fileSha256(big));
      await inSession(`rm ${engine.scratchInCommands}/copied.bin`);
    }, 300_000);

    it("cp out refuses a tenant's links that point outside, and writes nothing", async () => {
      const s = engine.scratchInCommands;
      await inSession(
        `mkdir -p ${s}/abs ${s}/climb/sub && echo x > ${s}/abs/a && ln -s /etc ${s}/abs/etc && echo y > ${s}/climb/b && ln -s ../../../../../../../tmp ${s}/climb/sub/up && mkdir ${s}/sibling && ln -s ../abs ${s}/sibling/next`,
      );
      const target = join(work, "hostile");
      await mkdir(target);
      // An absolute link; one that climbs past the root; one to a sibling of the copied tree.
      for (const path of ["abs", "climb", "sibling"]) {
        const result = await cli(["cp", `${id}:${engine.scratch}/${path}`, target]);
        expect(result.code, path).toBe(1);
        expect(result.stderr).toMatch(
          /UNSAFE_ARCHIVE: .* is a link to .*outside what is copied; nothing was written/,
        );
        // Not even the staging directory is left.
        expect(await readdir(target)).toEqual([]);
      }
      // A link that stays inside is copied as a link.
      await inSession(`mkdir ${s}/fine && echo z > ${s}/fine/f && ln -s f ${s}/fine/l`);
      const fine = await cli(["cp", `${id}:${engine.scratch}/fine`, target]);
      expect(fine.code, fine.stderr).toBe(0);
      expect(await readlink(join(target, "fine", "l"))).toBe("f");
    });

    it("sessions destroy from another process ends the session, and its keeper exits", async () => {
      const [listed] = await sessionsOfThisRun();
      const keeper = keeperPid(listed!);
      const destroyed = await cli(["sessions", "destroy", id]);
      expect(destroyed.code, destroyed.stderr).toBe(0);
      expect(await sessionsOfThisRun()).toEqual([]);
      await untilExited(keeper);
      const gone = await cli(["exec", id, "--", "true"]);
      expect(gone.code).toBe(125);
      expect(gone.stderr).toContain("SESSION_NOT_FOUND");
    });
  });
}

/** The pid in an owner label, "host/boot/pidns/pid/start". */
function keeperPid(session: ListedSession): number {
  return Number(session.owner.split("/")[3]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Until the keeper has exited: it is no child of this process (it was detached from the command
 * that started it), so nothing signals its end here; it is looked for until it is gone. The
 * limit is for a hang, not a time the test expects.
 */
async function untilExited(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`the session keeper (pid ${pid}) did not exit`);
    await delay(100);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** `count` small files in directories of 100, with a few links that stay inside. */
async function makeTree(root: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = join(root, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.txt`), randomBytes(64 + (i % 50) * 80), { mode: 0o640 });
  }
  await symlink("d0/f0.txt", join(root, "link-to-file"));
  await symlink("../d0", join(root, "d1", "link-to-dir"));
}

/** Every entry under `root`: its path, type, mode, and its content's hash or its link target. */
async function treeDigest(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const info = await lstat(path);
      const at = `${rel}${name}`;
      if (info.isDirectory()) {
        lines.push(`${at}/ dir`);
        await walk(path, `${at}/`);
      } else if (info.isSymbolicLink()) lines.push(`${at} -> ${await readlink(path)}`);
      else lines.push(`${at} ${(info.mode & 0o777).toString(8)} ${await fileSha256(path)}`);
    }
  };
  await walk(root, "");
  return lines;
}
