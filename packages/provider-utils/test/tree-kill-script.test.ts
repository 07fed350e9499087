import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { execTagVariable, treeKillArgv } from "../src/index.js";

// The script runs inside sandboxes whose /bin/sh may be busybox ash (builtin scan) or dash (no
// `read -d`, grep fallback). Run it with each shell this host has, against real processes.
const shells = [
  ["dash", "/bin/dash"],
  ["busybox ash", "/bin/busybox"],
  ["bash", "/bin/bash"],
].filter(([, path]) => existsSync(path!)) as [string, string][];

/** Starts a tagged tree: a background child, a setsid'd escapee, and the exec'd leader. */
async function startTaggedTree(tag: string): Promise<number[]> {
  const tree = spawn(
    "sh",
    ["-c", "sleep 1000 & echo $!; setsid sleep 1000 & echo $!; echo $$; exec sleep 1000"],
    {
      env: { PATH: process.env.PATH, [execTagVariable]: tag },
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  const pids: number[] = [];
  for await (const line of createInterface({ input: tree.stdout! })) {
    pids.push(Number(line));
    if (pids.length === 3) break;
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

function runKiller(shell: string, tag: string) {
  const [, , script, name, arg] = treeKillArgv(tag);
  const args = shell.endsWith("busybox")
    ? ["sh", "-c", script!, name!, arg!]
    : ["-c", script!, name!, arg!];
  return spawnSync(shell, args, { env: { PATH: process.env.PATH }, encoding: "utf8" });
}

describe.each(shells)("tree-kill script under %s", (_name, shell) => {
  it("kills every tagged process, the setsid'd one too, and exits 0", async () => {
    const tag = randomBytes(8).toString("hex");
    const pids = await startTaggedTree(tag);
    expect(pids.every(alive)).toBe(true);
    const killer = runKiller(shell, tag);
    expect(killer.status, killer.stderr).toBe(0);
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
