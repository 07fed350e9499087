import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sessionInfoFromLabels } from "@cadre/agent-runtime-provider-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { StubBackend } from "../src/index.js";
import { sessionDirectories, useStubProviders, waitLimit } from "./helpers.js";

// Owners in another PID namespace, for real: util-linux unshare (as root) runs the owner as pid 1
// of a fresh PID namespace with its own /proc, where this process's pids mean nothing.
const fixture = fileURLToPath(new URL("./fixtures/namespaced-owner.mjs", import.meta.url));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL"); // --kill-child takes the namespace's pid 1 with it
      await exited;
    }
  }
});

function inNewPidNamespace(args: string[]): ChildProcess {
  const child = spawn(
    "unshare",
    ["--pid", "--fork", "--mount-proc", "--kill-child", process.execPath, fixture, ...args],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  return child;
}

async function firstLine<T>(child: ChildProcess): Promise<T> {
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  return JSON.parse(chunk.toString().split("\n")[0]!) as T;
}

const ownNamespace = /^pid:\[(\d+)\]$/.exec(readlinkSync("/proc/self/ns/pid"))?.[1];

describe("owners in another PID namespace", () => {
  const stub = useStubProviders();

  it("their live sessions are not reaped from here; past olderThanMs or their TTL they are", async () => {
    const reaper = await stub();
    const owner = inNewPidNamespace([reaper.stateDir, "own", "3000"]);
    const started = await firstLine<{ lasting: string; expiring: string; owner: string }>(owner);
    const [, , pidNamespace, pid] = started.owner.split("/");
    // The test means something only if the owner really lives in another PID namespace.
    expect(pidNamespace).not.toBe(ownNamespace);
    expect(pid).toBe("1");

    // Its pid 1 is not its pid here: judged by pid alone, it would look gone (or be another process).
    // (The expiring one may already be past its TTL here on a slow host: then it is reaped now.)
    const early = await reaper.reap();
    expect(early).not.toContain(started.lasting);
    expect((await reaper.getSession(started.lasting)).state).toBe("running");

    const labels = JSON.parse(await new StubBackend(reaper.stateDir).readLabels(started.expiring))
      .labels as Record<string, string>;
    const expiresAt = Date.parse(sessionInfoFromLabels(labels, "running")?.expiresAt ?? "");
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(expiresAt), waitLimit);
    expect([...early, ...(await reaper.reap())]).toEqual([started.expiring]);
    expect(await reaper.reap({ olderThanMs: 0 })).toEqual([started.lasting]);
    expect(await sessionDirectories(reaper.stateDir)).toEqual([]);
  });

  it("a reaper there does not destroy the live session of an owner here", async () => {
    const owner = await stub();
    const id = await owner.startSession({});
    const reaper = inNewPidNamespace([owner.stateDir, "reap"]);
    const { reaped } = await firstLine<{ reaped: string[] }>(reaper);
    expect(reaped).toEqual([]);
    expect((await owner.getSession(id)).state).toBe("running");
    expect((await owner.exec(id, ["echo", "still here"])).stdout).toBe("still here\n");
  });
});
