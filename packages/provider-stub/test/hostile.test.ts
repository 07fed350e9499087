import { spawn } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execKillGraceMs, sessionLabels } from "@cadre/agent-runtime-contract";
import { afterEach, describe, expect, it } from "vitest";
import { StubBackend } from "../src/index.js";
import { processesWithArgument, uniqueSleepSeconds, useStubProviders } from "./helpers.js";

const secret = "sk-live-planted-4b1d0c6e";

describe("env values stay out of records and listings", () => {
  const stub = useStubProviders();

  it("keeps the values in an owner-only file that listings never read, and runs with them", async () => {
    const provider = await stub();
    const id = await provider.startSession({ env: { API_TOKEN: secret }, labels: { t: "env" } });

    const record = await new StubBackend(provider.stateDir).readLabels(id);
    expect(record).not.toContain(secret);
    expect(record).toContain("API_TOKEN");
    const listed = JSON.stringify([
      await provider.listSessions(),
      await provider.getSession(id),
      await provider.listSessions({ labels: { t: "env" } }),
    ]);
    expect(listed).not.toContain(secret);
    expect((await provider.getSession(id)).envNames).toEqual(["API_TOKEN"]);

    const envFile = join(provider.stateDir, id, "env.json");
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    const result = await provider.exec(id, ["sh", "-c", 'printf %s "$API_TOKEN"']);
    expect(result.stdout).toBe(secret);
  });

  it("no error message carries a value", async () => {
    const provider = await stub();
    const messages: string[] = [];
    for (const policy of [
      { env: { API_TOKEN: secret }, memory: 1 << 26 },
      { env: { "BAD NAME": secret } },
      { env: { API_TOKEN: secret }, colour: "red" },
    ]) {
      await provider.startSession(policy as never).then(
        () => expect.fail("the policy should have been refused"),
        (error: Error) => messages.push(`${error.message} ${JSON.stringify(error)}`),
      );
    }
    expect(messages).toHaveLength(3);
    for (const message of messages) expect(message).not.toContain(secret);
  });
});

describe("foreign objects in the state directory", () => {
  const stub = useStubProviders();
  const planted: Array<{ remove(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(planted.splice(0).map((p) => p.remove()));
  });

  it("every method treats them as unknown sessions and none touches them", async () => {
    const provider = await stub();
    const foreign = await new StubBackend(provider.stateDir).plantForeignObjects();
    planted.push(...foreign);
    const own = await provider.startSession({});
    expect(foreign.length).toBeGreaterThanOrEqual(5);

    for (const object of foreign) {
      const what = `${object.id} (${object.description})`;
      await expect(provider.getSession(object.id), what).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await expect(provider.exec(object.id, ["true"]), what).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await provider.stopSession(object.id);
      await provider.destroySession(object.id);
    }
    expect((await provider.listSessions()).map((s) => s.id)).toEqual([own]);
    expect(await provider.reap({ olderThanMs: 0 })).toEqual([own]);
    for (const object of foreign) {
      expect(await object.alive(), `${object.id} (${object.description})`).toBe(true);
    }
  });

  it("a malformed created-at label is listed and reaped by age, never thrown", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const file = join(provider.stateDir, id, "session.json");
    const record = JSON.parse(await readFile(file, "utf8")) as {
      labels: Record<string, string>;
    };
    record.labels[sessionLabels.createdAt] = "the day before yesterday";
    await writeFile(file, JSON.stringify(record));

    expect((await provider.listSessions()).map((s) => s.id)).toEqual([id]);
    expect(await provider.reap()).toEqual([]);
    expect(await provider.reap({ olderThanMs: 24 * 60 * 60 * 1000 })).toEqual([id]);
  });
});

describe("a command that hides from the deadline", () => {
  const stub = useStubProviders();
  const strays: string[] = [];
  afterEach(async () => {
    for (const marker of strays.splice(0)) {
      for (const pid of await processesWithArgument(marker)) process.kill(pid, "SIGKILL");
    }
  });

  it("an env -i setsid job holding the output is killed at the deadline, and the kill is complete", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const marker = uniqueSleepSeconds();
    strays.push(marker);
    const timeoutMs = 2000;

    const started = performance.now();
    const result = await provider.exec(
      id,
      ["sh", "-c", `unset CADRE_EXEC_ID; setsid env -i sleep ${marker} & wait`],
      { timeoutMs },
    );
    // The grace is the stub's bound; the room past it is for a loaded host (pnpm bench measures speed).
    expect(performance.now() - started).toBeLessThan(timeoutMs + execKillGraceMs + 10_000);
    expect(result).toMatchObject({ timedOut: true, exitCode: 137, signal: "SIGKILL" });
    expect(await processesWithArgument(marker)).toEqual([]);
    // Its supervisor is a subreaper: the job stayed below it whatever it did to its environment.
    expect(result.kill).toMatchObject({ complete: true });
    expect(result.kill?.method).toMatch(/subreaper/);
  });

  it("an orphan that left the group, the environment and the scratch root is killed too", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const marker = uniqueSleepSeconds();
    strays.push(marker);
    const timeoutMs = 2000;

    const started = performance.now();
    const result = await provider.exec(
      id,
      ["sh", "-c", `(cd / && setsid env -i sleep ${marker} &); echo ready; exec sleep 600`],
      { timeoutMs },
    );
    // The grace is the stub's bound; the room past it is for a loaded host (pnpm bench measures speed).
    expect(performance.now() - started).toBeLessThan(timeoutMs + execKillGraceMs + 10_000);
    expect(result).toMatchObject({ timedOut: true, stdout: "ready\n" });
    // A double fork orphans it to the nearest subreaper: the command's supervisor.
    expect(result.kill).toMatchObject({ complete: true });
    expect(await processesWithArgument(marker)).toEqual([]);
  });

  it("an ordinary timeout is complete and leaves nothing behind", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const marker = uniqueSleepSeconds();
    const result = await provider.exec(id, ["sh", "-c", `sleep ${marker} & sleep ${marker}`], {
      timeoutMs: 1000,
    });
    expect(result.timedOut).toBe(true);
    expect(result.kill).toMatchObject({ complete: true });
    expect(result.kill?.survivors).toBeUndefined();
    expect(await processesWithArgument(marker)).toEqual([]);
  });

  it("destroySession kills what a finished exec left with env -i and setsid, and nothing of others", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const other = await provider.startSession({});
    const marker = uniqueSleepSeconds();
    const bystander = uniqueSleepSeconds();
    strays.push(marker, bystander);
    // A finished exec leaves a job behind that cleared its environment and left the group.
    await provider.exec(id, [
      "sh",
      "-c",
      `setsid env -i sleep ${marker} </dev/null >/dev/null 2>&1 &`,
    ]);
    await provider.exec(other, [
      "sh",
      "-c",
      `setsid sleep ${bystander} </dev/null >/dev/null 2>&1 &`,
    ]);
    // A host process elsewhere with the same kind of command line: not the session's.
    const outsider = spawn("sleep", [bystander], { stdio: "ignore", cwd: "/" });
    try {
      await expect.poll(() => processesWithArgument(marker), { timeout: 10_000 }).toHaveLength(1);
      await provider.destroySession(id);
      expect(await processesWithArgument(marker)).toEqual([]);
      expect(await processesWithArgument(bystander)).toHaveLength(2);
    } finally {
      outsider.kill("SIGKILL");
    }
  });
});
