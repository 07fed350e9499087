import { freemem } from "node:os";
import { listProcessesArgv, memoryHogArgv } from "@cadre/agent-runtime-conformance";
import {
  AgentRuntimeError,
  type ExecResult,
  type IsolationProvider,
} from "@cadre/agent-runtime-contract";
import { afterAll, afterEach, expect, it } from "vitest";
import { censusTotal, type Target, type TargetName, within } from "../src/index.js";
import { describeTarget } from "./support/available.js";

const MiB = 1024 * 1024;
/** Bound of every hostile exec: each must end (killed, capped, timed out) well before it. */
const boundMs = 90_000;

/** The sessions of one target's suite, destroyed after each test and checked gone at the end. */
function hostileSessions(target: Target) {
  const runLabel = { "cadre.reliability/hostile-run": `${process.pid}-${target.name}` };
  const provider: IsolationProvider = target.createProvider();
  const ids: string[] = [];
  afterEach(async () => {
    await Promise.all(ids.splice(0).map((id) => provider.destroySession(id)));
  });
  afterAll(async () => {
    expect(censusTotal(await target.census(runLabel))).toBe(0);
    // How the sessions ended is of no use after the run: their records go too.
    await provider.reap({ labels: runLabel, endedOlderThanMs: 0 });
    await provider.close?.();
  });
  return {
    provider,
    async start(policy: Record<string, unknown> = {}) {
      const id = await provider.startSession({ ...target.basePolicy, ...policy, labels: runLabel });
      ids.push(id);
      return id;
    },
    run(id: string, argv: string[], options: Parameters<IsolationProvider["exec"]>[2] = {}) {
      return within(provider.exec(id, argv, options), boundMs, `exec ${argv.join(" ")}`);
    },
  };
}

/** The host is unaffected: the engine still answers, memory is left, this process stays small. */
async function expectHostFine(target: Target, freeBefore: number) {
  expect(await target.unavailableReason()).toBeUndefined();
  expect(process.memoryUsage().rss).toBeLessThan(512 * MiB);
  // Other suites share this host, so this is no exact budget: the workload must not have eaten
  // a large part of what was free.
  expect(freemem()).toBeGreaterThan(freeBefore / 2);
}

const targets: TargetName[] = ["stub", "docker-runc", "docker-runsc", "kata-runc", "kata-runsc"];

for (const name of targets) {
  await describeTarget(name, "hostile workloads", (target) => {
    const s = hostileSessions(target);
    const limits = target.enforcesLimits;

    if (limits)
      it("a fork bomb stops at pids (or at the sandbox's own limits); the host survives it", async () => {
        const free = freemem();
        const pidsEnforced = (await s.provider.capabilities()).policy.pids.enforced;
        const id = await s.start(
          pidsEnforced ? { pids: 64, memory: 256 * MiB } : { memory: 256 * MiB },
        );
        // The shell waits by exec, not by a fork of sleep: its own bomb has the pids by then, a
        // fork would fail now and then, and the shell would end before the deadline.
        const bomb = await s
          .run(id, ["sh", "-c", "f() { f | f & }; f; exec sleep 600"], { timeoutMs: 8_000 })
          .catch((e: unknown) => e);
        const after = await s.run(id, listProcessesArgv).catch((e: unknown) => e);
        if (pidsEnforced) {
          const { stdout: _, stderr, ...seen } = bomb as ExecResult;
          expect(
            (bomb as ExecResult).timedOut,
            JSON.stringify({ ...seen, stderr: stderr?.slice(-200) }),
          ).toBe(true);
          expect((after as ExecResult).exitCode).toBe(0);
          // Only the session's keeper and the listing itself are left.
          const shells = (after as ExecResult).stdout.split("\0").filter((a) => a === "sh");
          expect(shells.length).toBeLessThan(5);
        } else {
          // gVisor: the sandbox's own memory limit ends the bomb, maybe with the whole sandbox;
          // either way the answer is a result or a typed error.
          for (const outcome of [bomb, after])
            if (outcome instanceof Error) expect(AgentRuntimeError.isInstance(outcome)).toBe(true);
        }
        await expectHostFine(target, free);
      });

    if (limits)
      it("a memory hog is killed at the limit, not the host", async () => {
        const free = freemem();
        const id = await s.start({ memory: 64 * MiB });
        const outcome = await s.run(id, memoryHogArgv(512 * MiB)).catch((e: unknown) => e);
        if (AgentRuntimeError.isInstance(outcome)) {
          // gVisor may lose the whole sandbox: then a typed error, never an untyped one.
          expect(["RESOURCE_LIMIT", "SESSION_NOT_RUNNING"]).toContain(outcome.code);
        } else {
          expect(outcome as ExecResult).toMatchObject({ exitCode: 137, limitExceeded: "memory" });
        }
        await expectHostFine(target, free);
      });

    it("endless output is capped and drained: the caller's memory stays bounded", async () => {
      const free = freemem();
      const rss = process.memoryUsage().rss;
      const id = await s.start();
      let streamed = 0;
      const endless = await s.run(
        id,
        ["sh", "-c", "while :; do echo 0123456789abcdef0123456789abcdef; done"],
        {
          timeoutMs: 4_000,
          maxOutputBytes: MiB,
          onStdout: (c) => {
            streamed += c.byteLength;
          },
        },
      );
      expect(endless).toMatchObject({ timedOut: true, truncated: true });
      expect(Buffer.byteLength(endless.stdout)).toBeLessThanOrEqual(MiB);
      expect(streamed).toBe(Buffer.byteLength(endless.stdout));
      // Output that ends on its own past the cap: drained to its end, so the command never blocks.
      const bounded = await s.run(id, ["sh", "-c", "yes | head -c 67108864; echo done >&2"], {
        maxOutputBytes: 64 * 1024,
      });
      expect(bounded).toMatchObject({ exitCode: 0, truncated: true, timedOut: false });
      expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MiB);
      await expectHostFine(target, free);
    });

    it("a process that ignores SIGTERM is killed at the deadline and by stopSession", async () => {
      const id = await s.start();
      const token = `ignores-term-${process.pid}`;
      const stubborn = await s.run(
        id,
        ["sh", "-c", `trap "" TERM; while :; do sleep 1; done`, token],
        { timeoutMs: 2_000 },
      );
      expect(stubborn).toMatchObject({ timedOut: true, exitCode: 137, signal: "SIGKILL" });
      expect((await s.run(id, listProcessesArgv)).stdout).not.toContain(token);

      let ready!: () => void;
      const trapped = new Promise<void>((resolve) => {
        ready = resolve;
      });
      const inFlight = s.provider.exec(
        id,
        ["sh", "-c", 'trap "" TERM; echo trapped; while :; do sleep 1; done'],
        { onStdout: () => ready() },
      );
      inFlight.catch(() => {});
      await trapped;
      await within(s.provider.stopSession(id), boundMs, "stopSession");
      expect((await s.provider.getSession(id)).state).not.toBe("running");
      const ended = await within(inFlight, boundMs, "the exec of a stopped session").catch(
        (e: unknown) => e,
      );
      // Either the session ended under it (typed error) or the command's kill is its result.
      if (!AgentRuntimeError.isInstance(ended)) expect((ended as ExecResult).exitCode).toBe(137);
    });

    it("a process that closes stdout and stderr but keeps running is waited for", async () => {
      const id = await s.start();
      const closed = await s.run(id, ["sh", "-c", "echo bye; exec >&- 2>&-; sleep 3; exit 7"]);
      expect(closed).toMatchObject({ exitCode: 7, stdout: "bye\n", timedOut: false });
      const forever = await s.run(id, ["sh", "-c", "exec >&- 2>&-; exec sleep 600"], {
        timeoutMs: 2_000,
      });
      expect(forever).toMatchObject({ timedOut: true, exitCode: 137 });
    });

    it("binary output that is not UTF-8 reaches callbacks byte for byte and decodes with U+FFFD", async () => {
      const id = await s.start();
      const chunks: Uint8Array[] = [];
      const binary = await s.run(id, ["printf", "\\377\\376\\000\\200ok"], {
        onStdout: (c) => chunks.push(c),
      });
      expect(binary.exitCode).toBe(0);
      expect([...Buffer.concat(chunks)]).toEqual([0xff, 0xfe, 0x00, 0x80, 0x6f, 0x6b]);
      expect(binary.stdout).toBe("\ufffd\ufffd\u0000\ufffdok");
    });
  });
}
