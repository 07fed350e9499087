import { spawn } from "node:child_process";
import { once } from "node:events";
import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { sessionInfoFromLabels } from "@cadre/agent-runtime-provider-utils";
import { describe, expect, it, vi } from "vitest";
import { createStubProvider, StubBackend } from "../src/index.js";
import {
  agentOf,
  alive,
  processesWithArgument,
  sessionDirectories,
  uniqueSleepSeconds,
  useStubProviders,
  waitLimit,
} from "./helpers.js";

const ownerFixture = fileURLToPath(new URL("./fixtures/owner-process.mjs", import.meta.url));

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("sessions on disk", () => {
  const stub = useStubProviders();

  it("another provider instance on the same state directory sees and controls the session", async () => {
    const first = await stub();
    const second = await stub({ stateDir: first.stateDir });
    const id = await first.startSession({ labels: { team: "a" }, env: { X: "1" } });

    const seen = await second.getSession(id);
    expect(seen).toMatchObject({ id, state: "running", providerId: "stub", labels: { team: "a" } });
    expect(seen.policy).toEqual({ labels: { team: "a" } });
    expect(seen.envNames).toEqual(["X"]);
    // The values are kept apart from the record, and still reach the commands of any instance.
    expect((await second.exec(id, ["sh", "-c", 'echo "$X"'])).stdout).toBe("1\n");
    expect((await second.listSessions({ labels: { team: "a" } })).map((s) => s.id)).toEqual([id]);
    expect(await second.listSessions({ labels: { team: "b" } })).toEqual([]);

    await second.stopSession(id);
    await expect(first.exec(id, ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_RUNNING",
    });
    await second.destroySession(id);
    // The first end is kept: the second instance's stop.
    expect(await first.getSession(id)).toMatchObject({
      state: "ended",
      end: { cause: { kind: "stopped", by: "owner" } },
    });
    expect(await sessionDirectories(first.stateDir)).toEqual([]);
  });

  it("a session's agent outlives its SIGKILLed owner; reap() removes it and all it ran", async () => {
    const watcher = await stub();
    const sleepSeconds = uniqueSleepSeconds();
    const owner = spawn(process.execPath, [ownerFixture, watcher.stateDir, sleepSeconds], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = once(owner, "exit");
    const [line] = (await once(owner.stdout, "data")) as [Buffer];
    const id = line.toString().trim();
    const agent = await agentOf(watcher.stateDir, id);

    // The finished exec's job, and the running exec's two sleeps. The owner's own command line
    // holds the number too; a background sleep may still be between fork and exec.
    const sleeping = async () =>
      (await processesWithArgument(sleepSeconds)).filter((p) => p !== owner.pid);
    await vi.waitFor(async () => expect(await sleeping()).toHaveLength(3), waitLimit);
    owner.kill("SIGKILL");
    await exited;

    // Like a container, the agent is not the owner's: it runs on.
    expect(await alive(agent)).toBe(true);
    // The owner's link is gone, so the agent killed what still ran over it (setsid child
    // included); what the finished exec left behind stays until the session ends.
    await vi.waitFor(async () => expect(await sleeping()).toHaveLength(1), waitLimit);
    const orphan = await watcher.getSession(id);
    expect(orphan).toMatchObject({ state: "running", labels: { fixture: "killed-owner" } });
    expect(orphan.owner).toContain(`/${owner.pid}/`);

    expect(await watcher.reap()).toEqual([id]);
    expect(await sessionDirectories(watcher.stateDir)).toEqual([]);
    expect(await alive(agent)).toBe(false);
    expect(await processesWithArgument(sleepSeconds)).toEqual([]);
  });

  it("reap() leaves sessions of a live owner alone unless they are older than asked", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    expect(await provider.reap()).toEqual([]);
    expect(await provider.reap({ olderThanMs: 60 * 60 * 1000 })).toEqual([]);
    expect(await provider.reap({ olderThanMs: 0 })).toEqual([id]);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("a TTL destroys the session and kills its running command", async () => {
    const provider = await stub();
    const sleepSeconds = uniqueSleepSeconds();
    // Long enough for the exec to start on a loaded host; the test waits for the TTL's events.
    const id = await provider.startSession({ ttlMs: 5000 });
    const info = sessionInfoFromLabels(await recordLabels(provider.stateDir, id), "running");
    expect(Date.parse(info?.expiresAt ?? "") - Date.parse(info?.createdAt ?? "")).toBe(5000);

    const result = await provider.exec(id, ["sleep", sleepSeconds]);
    expect(result).toMatchObject({ exitCode: 137, signal: "SIGKILL", timedOut: false });
    await vi.waitFor(
      async () => expect(await exists(`${provider.stateDir}/${id}`)).toBe(false),
      waitLimit,
    );
    expect(await processesWithArgument(sleepSeconds)).toEqual([]);
    expect(await provider.getSession(id)).toMatchObject({
      state: "ended",
      end: { cause: { kind: "ttl", limit: 5000 } },
    });
  });

  it("reap() removes an expired session whose timer is gone", async () => {
    const stateDirOwner = await stub();
    // A provider that is closed right away: its TTL timer never fires.
    const short = createStubProvider({ stateDir: stateDirOwner.stateDir });
    const id = await short.startSession({ ttlMs: 50 });
    await short.close();
    // Read from the record, not getSession: the TTL may have run out already on a slow host.
    const labels = await recordLabels(stateDirOwner.stateDir, id);
    const expiresAt = Date.parse(sessionInfoFromLabels(labels, "running")?.expiresAt ?? "");
    expect(expiresAt).toBeGreaterThan(0);

    // Waiting for the clock is what a TTL is about.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(expiresAt), waitLimit);
    expect(await stateDirOwner.listSessions()).toEqual([]);
    expect(await sessionDirectories(stateDirOwner.stateDir)).toEqual([id]);
    expect(await stateDirOwner.reap()).toEqual([id]);
    expect(await sessionDirectories(stateDirOwner.stateDir)).toEqual([]);
  });
});

/** A session's labels as its record holds them, read without the provider. */
async function recordLabels(stateDir: string, id: string): Promise<Record<string, string>> {
  return (
    JSON.parse(await new StubBackend(stateDir).readLabels(id)) as { labels: Record<string, string> }
  ).labels;
}
