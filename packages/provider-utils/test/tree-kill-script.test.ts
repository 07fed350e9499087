import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

/**
 * Runs `scenario` as PID 1 of a new PID namespace, with the killer for `tag` available as
 * `$KILLER` (its argv, to be completed with `"$since"` and, for the init rule, `init`). Returns
 * what it printed after the killer: "killer exit <code>", then every process's argv but PID 1's
 * (whose own script holds every token).
 */
function inPidNamespace(
  shell: string,
  tag: string,
  scenario: string[],
  { pid1LeadsSession = false } = {},
): string {
  const [, , script, name] = treeKillArgv(tag);
  const applet = shell.endsWith("busybox") ? "sh " : "";
  const run = spawnSync(
    "unshare",
    [
      "--pid",
      "--fork",
      "--mount-proc",
      // As a container's init, which leads session 1.
      ...(pid1LeadsSession ? ["setsid"] : []),
      "sh",
      "-c",
      [
        ...scenario,
        'echo "killer exit $?"',
        "for d in /proc/[0-9]*; do [ $d = /proc/1 ] || tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done",
      ].join("\n"),
    ],
    {
      env: {
        PATH: process.env.PATH,
        KILLER: `"${shell}" ${applet}-c "$KILLER_SCRIPT" ${name} ${tag}`,
        KILLER_SCRIPT: script,
      },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  expect(run.stdout, run.stderr).toContain(`${treeKillCleanLine}\nkiller exit 0`);
  return run.stdout.slice(run.stdout.indexOf("killer exit"));
}

/**
 * A tagged exec whose children escape: setsid + double fork + env -i, and unset + env -i. Each
 * escapee touches a file in `ready` once it runs; the scenario goes on when both did. With
 * `ownSession`, the exec starts in a session of its own, as a container engine's exec does.
 */
function escapingExec(tag: string, ready: string, { ownSession = false } = {}): string[] {
  const escapee = (name: string) => `sh -c "touch ${ready}/${name}; sleep 1000; :" token-${name}`;
  return [
    `${ownSession ? "setsid " : ""}env ${execTagVariable}=${tag} sh -c '` +
      `(setsid env -i ${escapee("setsid")} &); ` +
      `(unset CADRE_EXEC_ID; env -i ${escapee("envi")} &); ` +
      "exec sleep 1000' token-leader &",
    `until [ -e ${ready}/setsid ] && [ -e ${ready}/envi ]; do sleep 0.1; done`,
  ];
}

describe.skipIf(!canUnshare).each(shells)(
  "tree-kill script's orphan rule under %s, in a PID namespace of its own",
  (_name, shell) => {
    let ready: string;
    beforeEach(() => {
      ready = mkdtempSync(join(tmpdir(), "cadre-tree-kill-"));
    });
    afterEach(() => rmSync(ready, { recursive: true, force: true }));

    it("kills orphans started since the exec began (setsid, double fork, env -i), not older ones", () => {
      const tag = randomBytes(8).toString("hex");
      const after = inPidNamespace(shell, tag, [
        "(setsid sh -c 'sleep 1000; :' token-older &)",
        // `since` has whole seconds and one of slack: an orphan this much older is not taken.
        "sleep 2.5",
        "since=$(( $(date +%s) - 1 ))",
        ...escapingExec(tag, ready),
        'eval "$KILLER" "$since"',
      ]);
      expect(after).not.toMatch(/token-(setsid|envi|leader)/);
      expect(after, "an orphan older than the exec is not the exec's").toContain("token-older");
    }, 60_000);

    it("with an init as PID 1, spares its first child (the main process) whenever it started", () => {
      const tag = randomBytes(8).toString("hex");
      // As after a restart of the sandbox: the main process is younger than the exec.
      const after = inPidNamespace(shell, tag, [
        "since=$(( $(date +%s) - 1 ))",
        "sh -c 'sleep 1000; :' token-main &",
        ...escapingExec(tag, ready),
        'eval "$KILLER" "$since" init',
      ]);
      expect(after).not.toMatch(/token-(setsid|envi|leader)/);
      expect(after).toContain("token-main");
    }, 60_000);

    it("spares what PID 1 started in the session it leads, however young, and nothing else", () => {
      const tag = randomBytes(8).toString("hex");
      // A session loop's sleep, started again at once whenever it is killed: taking it would
      // chase it until the killer gives up. The exec's escapees are in the exec's session.
      const after = inPidNamespace(
        shell,
        tag,
        [
          "since=$(( $(date +%s) - 1 ))",
          "sh -c 'sleep 1000; :' token-own &",
          ...escapingExec(tag, ready, { ownSession: true }),
          'eval "$KILLER" "$since"',
        ],
        { pid1LeadsSession: true },
      );
      expect(after).not.toMatch(/token-(setsid|envi|leader)/);
      expect(after).toContain("token-own");
    }, 60_000);
  },
);
