import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readCgroup } from "../src/usage/cgroup-usage.js";

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function files(layout: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), "cadre-cgroup-"));
  for (const [path, body] of Object.entries(layout)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), body);
  }
  return root;
}

describe("a session's cgroup counters", () => {
  it("are read from cgroup v2's unified files", async () => {
    const at = files({
      "s/x/cgroup.controllers": "memory pids cpu\n",
      "s/x/memory.current": "1048576\n",
      "s/x/memory.peak": "4194304\n",
      "s/x/memory.max": "67108864\n",
      "s/x/memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n",
      "s/x/pids.current": "7\n",
      "s/x/pids.max": "max\n",
      "s/x/pids.events": "max 3\n",
      "s/x/cpu.stat": "usage_usec 1500\nuser_usec 1000\n",
    });
    expect(await readCgroup("/s/x", at)).toEqual({
      memory: { currentBytes: 1048576, peakBytes: 4194304, limitBytes: 67108864 },
      oomKills: 2,
      pids: { current: 7, limit: undefined, refused: 3 },
      cpuNs: 1_500_000,
    });
  });

  it("are read from cgroup v1's controllers, an unlimited memory limit being none", async () => {
    const at = files({
      "memory/d/y/memory.usage_in_bytes": "2048\n",
      "memory/d/y/memory.max_usage_in_bytes": "8192\n",
      "memory/d/y/memory.limit_in_bytes": "9223372036854771712\n",
      "memory/d/y/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
      "pids/d/y/pids.current": "2\n",
      "pids/d/y/pids.max": "32\n",
      "pids/d/y/pids.events": "max 0\n",
      "cpuacct/d/y/cpuacct.usage": "123456\n",
    });
    expect(await readCgroup("d/y/", at)).toEqual({
      memory: { currentBytes: 2048, peakBytes: 8192, limitBytes: undefined },
      oomKills: 1,
      pids: { current: 2, limit: 32, refused: 0 },
      cpuNs: 123456,
    });
  });

  it("are undefined for a cgroup that is not there, and never read out of the hierarchy", async () => {
    const at = files({ "memory/other/memory.usage_in_bytes": "1\n" });
    expect(await readCgroup("/gone", at)).toBeUndefined();
    expect(await readCgroup("/../etc", at)).toBeUndefined();
  });
});
