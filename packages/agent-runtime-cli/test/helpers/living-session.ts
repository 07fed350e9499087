import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TopRow } from "../../src/cli/sessions-top.js";
import {
  assertBuilt,
  cliCommandLine,
  finished,
  runCli,
  runCliWithStdin,
  startCli,
  startInTerminal,
  transcript,
} from "./cli.js";

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

interface ProcessRow {
  id: string;
  pid: number;
  command: string;
  state: string;
  pty: boolean;
}

interface ListedSession {
  id: string;
  owner: string;
  labels: Record<string, string>;
}

/**
 * The commands that work with a living session from the shell, each in a process of its own as a
 * user would run them: `sessions start` then `exec`, `cp` both ways (a tree of a few thousand
 * files, a 100 MB file, a tenant's hostile links), `sessions reap` leaving the session alone,
 * `spawn`, `ps` and `attach` of processes, `run -it` and `exec -it` on a real pseudo-terminal
 * (util-linux `script`), and `sessions destroy`, after which the session's keeper exits. No time
 * is asserted, and nothing waits by sleeping: each step waits for the output it needs.
 */
export function describeLivingSession(engine: LivingSessionEngine): void {
  describe(`a living session on ${engine.name}`, () => {
    const env = () => engine.env?.() ?? {};
    let work: string;
    let id: string;
    let processId: string;

    const cli = (args: string[]) => runCli(args, env());
    const sessionsOfThisRun = async (): Promise<ListedSession[]> => {
      const list = await cli(["sessions", "list", ...engine.listArgs(), "--json"]);
      expect(list.code, list.stderr).toBe(0);
      const [key, value] = engine.label;
      return (JSON.parse(list.stdout) as ListedSession[]).filter((s) => s.labels[key] === value);
    };
    const processesOfSession = async (): Promise<ProcessRow[]> => {
      const listed = await cli(["ps", "--json", id]);
      expect(listed.code, listed.stderr).toBe(0);
      return JSON.parse(listed.stdout) as ProcessRow[];
    };
    /** The state `ps` shows for the process. */
    const processState = async (processId: string) =>
      (await processesOfSession()).find((p) => p.id === processId)?.state;
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

    it("spawn prints a process id alone; ps lists it with argv[0] only, never its arguments or env", async () => {
      const spawned = await cli([
        "spawn",
        "-e",
        "CADRE_TEST_TOKEN=env-value-not-listed",
        id,
        "--",
        "sh",
        "-c",
        "echo before; read line; echo got:$line; exit 9 # argument-not-listed",
      ]);
      expect(spawned.code, spawned.stderr).toBe(0);
      expect(spawned.stdout).toMatch(/^[A-Za-z0-9_-]{1,64}\n$/);
      processId = spawned.stdout.trim();
      const table = await cli(["ps", id]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^PROCESS\s+PID\s+STATE\s+EXIT\s+TTY\s+COMMAND\n/);
      expect(table.stdout).toMatch(
        new RegExp(`\\n${processId}\\s+\\d+\\s+running\\s+-\\s+no\\s+sh\\n`),
      );
      const json = await cli(["ps", "--json", id]);
      expect(json.code, json.stderr).toBe(0);
      const listed = (JSON.parse(json.stdout) as ProcessRow[]).find((p) => p.id === processId);
      expect(listed).toMatchObject({ command: "sh", state: "running", pty: false });
      expect(listed!.pid).toBeGreaterThan(0);
      for (const out of [table.stdout, json.stdout]) {
        expect(out).not.toContain("not-listed");
        expect(out).not.toContain("echo");
      }
    });

    it("attach replays earlier output then streams; Ctrl-C leaves the process running; another attach forwards stdin and exits with its code", async () => {
      // A first attach, from a process of its own: the process's output from before it came.
      const watcher = startCli(["attach", id, processId], env(), "pipe");
      const watched = transcript(watcher);
      const watcherDone = finished(watcher);
      await watched.until("before\n");
      watcher.kill("SIGINT");
      const left = await watcherDone;
      expect(left.code).toBe(130);
      expect(left.stderr).toContain(`left ${processId} running`);
      expect(await processState(processId)).toBe("running");

      // Another one: the same replay, then its stdin reaches the process, which ends.
      const attached = startCli(["attach", id, processId], env(), "pipe");
      const seen = transcript(attached);
      const done = finished(attached);
      await seen.until("before\n");
      attached.stdin?.end("hello\n");
      const result = await done;
      expect(result.code, result.stderr).toBe(9);
      expect(result.stdout).toBe("before\ngot:hello\n");
      expect(await processState(processId)).toBe("exited");

      // An ended process: its buffer replayed, its code at once.
      const again = await cli(["attach", "--no-stdin", id, processId]);
      expect(again.code).toBe(9);
      expect(again.stdout).toBe("before\ngot:hello\n");
      const unknown = await cli(["attach", id, "no-such-process"]);
      expect(unknown.code).toBe(125);
      expect(unknown.stderr).toContain("PROCESS_NOT_FOUND");
    });

    it("exec -it runs the command on a terminal of this terminal's size, forwards keys, exits with its code and restores the terminal", async () => {
      const term = startInTerminal(
        `stty rows 33 cols 101; ${cliCommandLine([
          "exec",
          "-it",
          id,
          "--",
          "sh",
          "-c",
          "test -t 0 && tty >/dev/null && echo has-a-tty; stty size; echo TERM=$TERM; echo ready; read line; echo got:$line; exit 3",
        ])}; code=$?; stty -a | grep -o -- '-\\?icanon'; exit $code`,
        env(),
      );
      const shown = transcript(term);
      const done = finished(term);
      await shown.until("ready");
      // Enter, as a terminal sends it: the command's own terminal turns it into a newline.
      term.stdin?.write("typed\r");
      const result = await done;
      expect(result.code, shown.text()).toBe(3);
      expect(shown.text()).toContain("has-a-tty");
      expect(shown.text()).toMatch(/\b33 101\r/);
      expect(shown.text()).toMatch(/TERM=\S+/);
      expect(shown.text()).toContain("got:typed");
      // After the command: the terminal back in its line mode (icanon, not -icanon).
      expect(shown.text()).toMatch(/(^|\n)icanon\r?\n/);
      // The command was a process of the session, and it ended with its terminal.
      const after = await processesOfSession();
      expect(after.map((p) => [p.command, p.pty, p.state])).toContainEqual(["sh", true, "exited"]);
      expect(after.filter((p) => p.state === "running")).toEqual([]);
    });

    it("exec -it passes this terminal's resize (SIGWINCH) on to the command's terminal", async () => {
      const fifo = join(work, "resize-trigger");
      await promisify(execFile)("mkfifo", [fifo]);
      // A helper in the terminal's shell resizes it when the test says so, through the FIFO.
      const term = startInTerminal(
        `stty rows 20 cols 70; (read go < ${fifo}; stty -F /dev/tty rows 40 cols 120) & ${cliCommandLine(
          [
            "exec",
            "-it",
            id,
            "--",
            "sh",
            "-c",
            'stty size; echo ready; while [ "$(stty size)" = "20 70" ]; do sleep 0.1; done; echo resized to $(stty size)',
          ],
        )}`,
        env(),
      );
      const shown = transcript(term);
      const done = finished(term);
      await shown.until("ready");
      await writeFile(fifo, "go\n");
      const result = await done;
      expect(result.code, shown.text()).toBe(0);
      expect(shown.text()).toContain("resized to 40 120");
    });

    it("spawn --tty, then attach from a terminal: keys in raw mode, the terminal's size, Ctrl-P Ctrl-Q leaves it running", async () => {
      const spawned = await cli([
        "spawn",
        "--tty",
        "--rows",
        "10",
        "--cols",
        "50",
        id,
        "--",
        "sh",
        "-c",
        "stty size; echo ready; read line; echo got:$line; stty size; read more; echo more:$more; exit 5",
      ]);
      expect(spawned.code, spawned.stderr).toBe(0);
      const ptyProcess = spawned.stdout.trim();
      const term = startInTerminal(
        `stty rows 30 cols 90; ${cliCommandLine(["attach", id, ptyProcess])}`,
        env(),
      );
      const shown = transcript(term);
      const done = finished(term);
      // Its first size, replayed; then the attaching terminal's, given on attach.
      await shown.until("ready");
      expect(shown.text()).toMatch(/\b10 50\r/);
      term.stdin?.write("one\r");
      await shown.until("30 90");
      term.stdin?.write("\x10\x11");
      const left = await done;
      expect(left.code, shown.text()).toBe(0);
      expect(shown.text()).toContain("got:one");
      expect(shown.text()).toContain(`left ${ptyProcess} running`);
      expect(await processState(ptyProcess)).toBe("running");
      // From a pipe: stdin forwarded as bytes, its end the terminal's end-of-file.
      const last = await runCliWithStdin(["attach", id, ptyProcess], "two\n", env());
      expect(last.code, last.stderr).toBe(5);
      expect(last.stdout).toContain("more:two");
    });

    it("run -it gives a fresh session's command a terminal; SIGTERM destroys the session and restores the terminal", async () => {
      const run = cliCommandLine([
        "run",
        "-it",
        ...engine.startArgs(),
        "--",
        "sh",
        "-c",
        "test -t 0 && echo has-a-tty; stty size; echo ready; read line; echo got:$line; exit 4",
      ]);
      const term = startInTerminal(
        `stty rows 25 cols 77; ${run}; code=$?; stty -a | grep -o -- '-\\?icanon'; exit $code`,
        env(),
      );
      const shown = transcript(term);
      const done = finished(term);
      await shown.until("ready");
      term.stdin?.write("keys\r");
      const result = await done;
      expect(result.code, shown.text()).toBe(4);
      expect(shown.text()).toContain("has-a-tty");
      expect(shown.text()).toMatch(/\b25 77\r/);
      expect(shown.text()).toContain("got:keys");
      expect(shown.text()).toMatch(/(^|\n)icanon\r?\n/);
      expect((await sessionsOfThisRun()).map((s) => s.id)).toEqual([id]);

      // Interrupted: the command's session is destroyed, the terminal given back in line mode.
      // The command line runs in the background of the terminal's shell (stdin the terminal, given
      // explicitly) so that the shell prints its pid for the test to signal.
      const waiting = cliCommandLine([
        "run",
        "-it",
        ...engine.startArgs(),
        "--",
        "sh",
        "-c",
        "echo waiting; read line",
      ]);
      const term2 = startInTerminal(
        `exec 3<&0; ${waiting} <&3 & echo cli-pid:$!; wait $!; echo cli-exit:$?; stty -a | grep -o -- '-\\?icanon'`,
        env(),
      );
      const shown2 = transcript(term2);
      const done2 = finished(term2);
      await shown2.until("waiting");
      const pid = Number(/cli-pid:(\d+)/.exec(shown2.text())?.[1]);
      expect(await sessionsOfThisRun()).toHaveLength(2);
      process.kill(pid, "SIGTERM");
      const result2 = await done2;
      expect(result2.code, shown2.text()).toBe(0);
      expect(shown2.text()).toContain("cli-exit:143");
      expect(shown2.text()).toMatch(/(^|\n)icanon\r?\n/);
      expect((await sessionsOfThisRun()).map((s) => s.id)).toEqual([id]);
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

    it("cp copies a 100 MB file, and a 100 MB tree, in and out unchanged", async () => {
      const big = join(work, "big.bin");
      await writeFile(big, randomBytes(100 * 1000 * 1000));
      const into = await cli(["cp", big, `${id}:${engine.scratch}/copied.bin`]);
      expect(into.code, into.stderr).toBe(0);
      const back = join(work, "back.bin");
      const out = await cli(["cp", `${id}:${engine.scratch}/copied.bin`, back]);
      expect(out.code, out.stderr).toBe(0);
      expect(await fileSha256(back)).toBe(await fileSha256(big));
      await inSession(`rm ${engine.scratchInCommands}/copied.bin`);

      // The same bytes as a tree: the large file beside a few hundred small ones, in one stream.
      const tree = join(work, "bigtree");
      await makeTree(tree, 300);
      await rename(big, join(tree, "d0", "big.bin"));
      const treeIn = await cli(["cp", tree, `${id}:${engine.scratch}`]);
      expect(treeIn.code, treeIn.stderr).toBe(0);
      const outDir = join(work, "bigtree-out");
      await mkdir(outDir);
      const treeOut = await cli(["cp", `${id}:${engine.scratch}/bigtree`, outDir]);
      expect(treeOut.code, treeOut.stderr).toBe(0);
      expect(await treeDigest(join(outDir, "bigtree"))).toEqual(await treeDigest(tree));
      await inSession(`rm -r ${engine.scratchInCommands}/bigtree`);
      await rm(join(work, "bigtree"), { recursive: true });
      await rm(outDir, { recursive: true });
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
