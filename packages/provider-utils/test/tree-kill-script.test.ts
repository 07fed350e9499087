import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { execTagVariable, treeKillArgv, treeKillCleanLine } from "../src/index.js";

// The script runs inside sandboxes whose /bin/sh may be busybox ash (builtin scan) or dash (no
// `read -d`, grep fallback). Run it with each shell this host has, against real processes.
const shells = [
  ["dash", "/bin/dash"],
  ["busybox ash", "/bin/busybox"],
  ["bash", "/bin/bash"],
].filter(([, path]) => existsSync(path!)) as [string, string][];

/**
 * Starts a tagged tree and prints one pid per line: a background child, a setsid'd escapee, a
 * child started with an empty environment, one that unset the tag and exec'd, and the exec'd
 * leader. The untagged ones are found through their parent.
 */
async function startTaggedTree(tag: string): Promise<number[]> {
  const tree = spawn(
    "sh",
    [
      "-c",
      [
        "sleep 1000 & echo $!",
        "setsid sleep 1000 & echo $!",
        "env -i sleep 1000 & echo $!",
        "(unset CADRE_EXEC_ID; exec env -i sh -c 'exec sleep 1000') & echo $!",
        "echo $$; exec sleep 1000",
      ].join("\n"),
    ],
    {
      env: { PATH: process.env.PATH, [execTagVariable]: tag },
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  const pids: number[] = [];
  for await (const line of createInterface({ input: tree.stdout! })) {
    pids.push(Number(line));
    if (pids.length === 5) break;
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** argv for `shell`: busybox needs its applet name first. */
function shellArgv(shell: string, argv: string[]): [string, string[]] {
  const [, ...rest] = argv;
  return [shell, shell.endsWith("busybox") ? ["sh", ...rest] : rest];
}

function runKiller(shell: string, tag: string) {
  const [command, args] = shellArgv(shell, treeKillArgv(tag));
  return spawnSync(command, args, { env: { PATH: process.env.PATH }, encoding: "utf8" });
}

describe.each(shells)("tree-kill script under %s", (_name, shell) => {
  it("kills every tagged process and its untagged descendants, says so and exits 0", async () => {
    const tag = randomBytes(8).toString("hex");
    const pids = await startTaggedTree(tag);
    expect(pids.every(alive)).toBe(true);
    const killer = runKiller(shell, tag);
    expect(killer.status, killer.stderr).toBe(0);
    expect(killer.stdout.trim().split("\n").at(-1)).toBe(treeKillCleanLine);
    expect(pids.filter(alive)).toEqual([]);
  });

  it("leaves processes with another tag alone", async () => {
    const mine = randomBytes(8).toString("hex");
    const other = await startTaggedTree(randomBytes(8).toString("hex"));
    try {
      expect(runKiller(shell, mine).status).toBe(0);
      expect(other.every(alive)).toBe(true);
    } finally {
      for (const pid of other) process.kill(pid, "SIGKILL");
    }
  });
});

// The orphan rule takes any process whose parent is PID 1: run only in a PID namespace of its
// own (never against the host's orphans), which needs root and util-linux's unshare.
const canUnshare =
  process.getuid?.() === 0 &&
  existsSync("/usr/bin/unshare") &&
  spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;

describe.skipIf(!canUnshare).each(shells)(
  "tree-kill script's orphan rule under %s, in a PID namespace of its own",
  (_name, shell) => {
    it("kills orphans started since the exec began (setsid, double fork, env -i), not older ones", () => {
      const tag = randomBytes(8).toString("hex");
      const [, , script, name] = treeKillArgv(tag);
      // PID 1 of the namespace runs this (its own argv holds every token: not listed). Orphans that start within two seconds of PID 1 count
      // as the sandbox's own, and `since` has whole seconds: hence the pauses, which only ever
      // need to be at least this long.
      const scenario = [
        "sleep 2.5",
        "(setsid sh -c 'sleep 1000; :' token-older &)",
        "sleep 2.5",
        "since=$(( $(date +%s) - 1 ))",
        `env ${execTagVariable}=${tag} sh -c '` +
          '(setsid env -i sh -c "sleep 1000; :" token-setsid &); ' +
          '(unset CADRE_EXEC_ID; env -i sh -c "sleep 1000; :" token-envi &); ' +
          "echo started; exec sleep 1000' token-leader &",
        'while [ -z "$(grep -l token-envi /proc/[0-9]*/cmdline 2>/dev/null)" ]; do sleep 0.1; done',
        `"$KILLER_SHELL" $KILLER_APPLET -c "$KILLER_SCRIPT" ${name} ${tag} "$since"`,
        'echo "killer exit $?"',
        "for d in /proc/[0-9]*; do [ $d = /proc/1 ] || tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done",
      ].join("\n");
      const run = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "sh", "-c", scenario], {
        env: {
          PATH: process.env.PATH,
          KILLER_SHELL: shell,
          KILLER_APPLET: shell.endsWith("busybox") ? "sh" : "",
          KILLER_SCRIPT: script,
        },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(run.stdout, run.stderr).toContain(`${treeKillCleanLine}\nkiller exit 0`);
      const after = run.stdout.slice(run.stdout.indexOf("killer exit"));
      expect(after).not.toMatch(/token-(setsid|envi|leader)/);
      expect(after, "an orphan older than the exec is not the exec's").toContain("token-older");
    }, 60_000);
  },
);
