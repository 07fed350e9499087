import { describe, expect, it, vi } from "vitest";
import {
  processesWithArgument,
  uniqueSleepSeconds,
  useStubProviders,
  waitLimit,
} from "./helpers.js";

/**
 * A command whose tree tries to survive: a child that ignores SIGTERM and a grandchild that left
 * the process group with setsid and let go of the pipes. It prints "ready" once both run.
 */
function stubbornTree(escaped: string, trapped: string): string[] {
  return [
    "sh",
    "-c",
    [
      `setsid sleep ${escaped} </dev/null >/dev/null 2>&1 &`,
      `sh -c 'trap "" TERM; sleep ${trapped}' &`,
      "echo ready",
      "wait",
    ].join("\n"),
  ];
}

/** Resolves once both processes run (a background job may not have exec'd sleep yet at "ready"). */
async function bothRunning(escaped: string, trapped: string): Promise<number[]> {
  return vi.waitFor(async () => {
    const pids = [
      ...(await processesWithArgument(escaped)),
      ...(await processesWithArgument(trapped)),
    ];
    expect(pids).toHaveLength(2);
    return pids;
  }, waitLimit);
}

describe("process tree killing", () => {
  const stub = useStubProviders();

  it("a timeout kills the group, a TERM-ignoring child and a setsid escapee", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const escaped = uniqueSleepSeconds();
    const trapped = uniqueSleepSeconds();
    let aliveBeforeDeadline: Promise<number[]> | undefined;

    // Room for both processes to start on a loaded host before the deadline.
    const result = await provider.exec(id, stubbornTree(escaped, trapped), {
      timeoutMs: 6000,
      onStdout: () => {
        aliveBeforeDeadline ??= bothRunning(escaped, trapped);
      },
    });

    // The test means something only if both processes ran before the deadline.
    expect(await aliveBeforeDeadline).toHaveLength(2);
    expect(result).toMatchObject({ timedOut: true, exitCode: 137, signal: "SIGKILL" });
    expect(result.stdout).toBe("ready\n");
    expect(await processesWithArgument(escaped)).toEqual([]);
    expect(await processesWithArgument(trapped)).toEqual([]);
  });

  it("an abort kills the whole tree, then exec rejects with the caller's reason", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const escaped = uniqueSleepSeconds();
    const trapped = uniqueSleepSeconds();
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    let aliveWhenReady: number[] = [];

    const exec = provider.exec(id, stubbornTree(escaped, trapped), {
      signal: controller.signal,
      onStdout: async () => {
        aliveWhenReady = await bothRunning(escaped, trapped);
        controller.abort(reason);
      },
    });

    await expect(exec).rejects.toBe(reason);
    expect(aliveWhenReady).toHaveLength(2);
    expect(await processesWithArgument(escaped)).toEqual([]);
    expect(await processesWithArgument(trapped)).toEqual([]);
  });

  it("an exec whose signal is already aborted starts nothing", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const marker = uniqueSleepSeconds();
    const reason = new Error("already aborted");
    await expect(
      provider.exec(id, ["sleep", marker], { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(await processesWithArgument(marker)).toEqual([]);
  });

  it("stopSession kills every running exec of the session, escapees included", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const escaped = uniqueSleepSeconds();
    const trapped = uniqueSleepSeconds();
    let ready: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });

    const exec = provider.exec(id, stubbornTree(escaped, trapped), { onStdout: () => ready() });
    await started;
    await bothRunning(escaped, trapped);
    await provider.stopSession(id);

    expect(await exec).toMatchObject({ exitCode: 137, signal: "SIGKILL", timedOut: false });
    expect(await processesWithArgument(escaped)).toEqual([]);
    expect(await processesWithArgument(trapped)).toEqual([]);
    expect((await provider.getSession(id)).state).toBe("stopped");
    await expect(provider.exec(id, ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_RUNNING",
    });
  });

  it("destroySession kills what a finished exec left running in the background", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const leftover = uniqueSleepSeconds();

    const result = await provider.exec(id, [
      "sh",
      "-c",
      `setsid sleep ${leftover} </dev/null >/dev/null 2>&1 &`,
    ]);
    expect(result.exitCode).toBe(0);
    // Between fork and exec the job's command line is still sh's.
    await vi.waitFor(
      async () => expect(await processesWithArgument(leftover)).toHaveLength(1),
      waitLimit,
    );

    await provider.destroySession(id);
    expect(await processesWithArgument(leftover)).toEqual([]);
  });
});
