import { readFile } from "node:fs/promises";
import { execKillGraceMs } from "@cadre/agent-runtime-contract";
import { afterEach, describe, expect, it } from "vitest";
import {
  agentOf,
  alive,
  processesWithArgument,
  sessionDirectories,
  uniqueSleepSeconds,
  useStubProviders,
} from "./helpers.js";

describe("the session's agent", () => {
  const stub = useStubProviders();
  const strays: string[] = [];
  afterEach(async () => {
    for (const marker of strays.splice(0)) {
      for (const pid of await processesWithArgument(marker)) process.kill(pid, "SIGKILL");
    }
  });

  it("starts with the session as a process of its own, and stop and destroy end it", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const agent = await agentOf(provider.stateDir, id);
    expect(await alive(agent)).toBe(true);
    expect(agent.socket).toMatch(new RegExp(`^@cadre-stub/${id}/[0-9a-f]{16}$`));
    // Not this process's: a session of its own (setsid), so no signal to ours reaches it.
    const stat = await readFile(`/proc/${agent.pid}/stat`, "utf8");
    const [, , , sessionLeader] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    expect(Number(sessionLeader)).toBe(agent.pid);

    await provider.stopSession(id);
    expect(await alive(agent)).toBe(false);
    expect((await provider.getSession(id)).state).toBe("stopped");
    await provider.stopSession(id);
    await provider.destroySession(id);
    await provider.destroySession(id);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("serves a second provider instance in a session the first started and still uses", async () => {
    const first = await stub();
    const second = await stub({ stateDir: first.stateDir });
    const id = await first.startSession({});
    const agent = await agentOf(first.stateDir, id);

    // The first instance's command runs until a file appears that only the second's makes.
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const waiting = first.exec(
      id,
      ["sh", "-c", 'echo started; while [ ! -e "$HOME/flag" ]; do sleep 0.05; done; echo saw it'],
      { timeoutMs: 20_000, onStdout: () => started() },
    );
    await running;
    // The command's parent is its supervisor, whose parent is the session's one agent.
    const other = await second.exec(id, [
      "sh",
      "-c",
      'touch "$HOME/flag"; cut -d" " -f4 /proc/$PPID/stat',
    ]);
    expect(other).toMatchObject({ exitCode: 0, stdout: `${agent.pid}\n` });
    expect(await waiting).toMatchObject({
      exitCode: 0,
      stdout: "started\nsaw it\n",
      timedOut: false,
    });
    expect((await first.exec(id, ["echo", "first"])).stdout).toBe("first\n");
    expect((await second.exec(id, ["echo", "second"])).stdout).toBe("second\n");

    // Stopped from the second, the session is stopped for the first too.
    await second.stopSession(id);
    expect(await alive(agent)).toBe(false);
    await expect(first.exec(id, ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_RUNNING",
      state: "stopped",
    });
  });

  it("a killed agent fails the session with SESSION_NOT_RUNNING, for every instance, never a hang", async () => {
    const provider = await stub();
    const other = await stub({ stateDir: provider.stateDir });
    const id = await provider.startSession({});
    const agent = await agentOf(provider.stateDir, id);
    // On the stub a command of the same user can do this; here the test does it.
    const marker = uniqueSleepSeconds();
    strays.push(marker);
    let killed = false;
    const running = provider.exec(id, ["sh", "-c", `echo started; exec sleep ${marker}`], {
      onStdout: () => {
        if (killed) return;
        killed = true;
        process.kill(agent.pid, "SIGKILL");
      },
    });

    await expect(running).rejects.toMatchObject({ code: "SESSION_NOT_RUNNING", state: "failed" });
    expect(killed).toBe(true);
    expect(await alive(agent)).toBe(false);
    for (const instance of [provider, other]) {
      await expect(instance.exec(id, ["true"])).rejects.toMatchObject({
        code: "SESSION_NOT_RUNNING",
        state: "failed",
      });
      expect((await instance.getSession(id)).state).toBe("failed");
    }
    await other.destroySession(id);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("a timed-out exec settles after the grace even when the agent does not answer", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const agent = await agentOf(provider.stateDir, id);
    const marker = uniqueSleepSeconds();
    strays.push(marker);
    let stopped = false;
    const started = performance.now();
    try {
      // A tenant of the same user stops the agent once the command runs.
      const result = await provider.exec(id, ["sh", "-c", `echo started; exec sleep ${marker}`], {
        timeoutMs: 1000,
        onStdout: () => {
          if (stopped) return;
          stopped = true;
          process.kill(agent.pid, "SIGSTOP");
        },
      });
      expect(stopped).toBe(true);
      expect(result).toMatchObject({ timedOut: true, exitCode: 137, stdout: "started\n" });
      expect(result.kill?.complete).toBe(false);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1000 + execKillGraceMs - 1000);
    } finally {
      process.kill(agent.pid, "SIGCONT");
    }
    // Running again, the agent kills the command at its own deadline, and the session serves on.
    await expect.poll(() => processesWithArgument(marker), { timeout: 10_000 }).toEqual([]);
    expect((await provider.exec(id, ["echo", "back"])).stdout).toBe("back\n");
  }, 30_000);

  it("an agent killed while idle fails the next exec the same way", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    expect((await provider.exec(id, ["echo", "up"])).stdout).toBe("up\n");
    const agent = await agentOf(provider.stateDir, id);
    process.kill(agent.pid, "SIGKILL");
    await expect.poll(() => alive(agent), { timeout: 10_000 }).toBe(false);

    await expect(provider.exec(id, ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_RUNNING",
      state: "failed",
    });
    expect((await provider.listSessions()).map((s) => [s.id, s.state])).toEqual([[id, "failed"]]);
    await provider.destroySession(id);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });
});
