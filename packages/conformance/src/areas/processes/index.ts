import { readdirSync, readFileSync } from "node:fs";
import type {
  IsolationProvider,
  ProcessHandle,
  ProviderProcesses,
} from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it as vitestIt } from "vitest";
import { expectErrorCode } from "../../expect-error.js";
import {
  escapedSuffixes,
  escapingTreeArgv,
  killByTokenArgv,
  listProcessesArgv,
} from "../../probes.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.processes;
const hostile = conformanceTestNames.processesHostile;

/** What a handle writes, as it comes. */
function collect(handle: ProcessHandle) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  handle.stdout.on("data", (c: Buffer) => out.push(c));
  handle.stderr.on("data", (c: Buffer) => err.push(c));
  return {
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
    bytes: () => Buffer.concat(out).length,
  };
}

/** Polls `check` until it holds (a process's output is an event stream; this waits on it). */
async function until(
  ctx: ConformanceContext,
  check: () => boolean | Promise<boolean>,
  what: string,
) {
  const deadline = Date.now() + ctx.ms(30_000);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids on this host whose command line holds `marker` (the stub's processes are the host's). */
function hostProcessesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(") ") + 2, stat.lastIndexOf(") ") + 3);
      if (state !== "Z" && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker))
        found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The processes area (contract v1 addition); a provider without the feature passes by refusing. */
export function registerProcesses(ctx: ConformanceContext): void {
  describe("processes", () => {
    let id = "";
    let processes: ProviderProcesses;
    beforeAll(async () => {
      id = await ctx.startShared();
    }, ctx.ms(60_000));
    afterAll(() => ctx.destroyShared(), ctx.ms(60_000));

    /** Without the feature, a call is refused (or there is no provider.processes at all). */
    const refused = async (): Promise<boolean> => {
      if (ctx.report.features.processes) {
        processes = (ctx.provider as IsolationProvider).processes as ProviderProcesses;
        expect(
          processes,
          "features.processes is true, so provider.processes must be there",
        ).toBeDefined();
        return false;
      }
      const api = (ctx.provider as IsolationProvider).processes;
      if (api) await expectErrorCode(api.spawn(id, ["true"]), "CAPABILITY_MISMATCH");
      return true;
    };
    const it = (name: string, body: () => Promise<void>, ms = 120_000) =>
      vitestIt(
        name,
        async () => {
          if (await refused()) return;
          await body();
        },
        ctx.ms(ms),
      );

    vitestIt(
      names.unsupported,
      async () => {
        await refused();
      },
      ctx.ms(60_000),
    );

    it(names.runs, async () => {
      const handle = await processes.spawn(id, [
        "sh",
        "-c",
        "echo early; echo warn >&2; read go; echo late; exit 6",
      ]);
      expect(handle.id.length).toBeGreaterThan(0);
      expect(handle.pid).toBeGreaterThan(0);
      const seen = collect(handle);
      await until(ctx, () => seen.stdout().includes("early"), "output before the process ends");
      // The call that started it is long over: execs run beside it.
      expect((await ctx.provider.exec(id, ["echo", "beside"])).stdout).toBe("beside\n");
      await handle.write("go\n");
      const exit = await handle.wait();
      expect([exit.exitCode, seen.stdout(), seen.stderr()]).toEqual([6, "early\nlate\n", "warn\n"]);
    });

    it(names.stdin, async () => {
      const handle = await processes.spawn(id, ["cat"]);
      const seen = collect(handle);
      const input = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < input.length; i++) input[i] = 97 + (i % 26);
      for (let at = 0; at < input.length; at += 64 * 1024)
        await handle.write(input.subarray(at, at + 64 * 1024));
      await handle.closeStdin();
      expect((await handle.wait()).exitCode).toBe(0);
      expect(seen.bytes()).toBe(input.length);
      expect(seen.stdout() === input.toString(), "every byte, in order").toBe(true);
    });

    it(names.signals, async () => {
      const trapped = await processes.spawn(id, [
        "sh",
        "-c",
        'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 1; done',
      ]);
      const seen = collect(trapped);
      await until(ctx, () => seen.stdout().includes("ready"), "ready");
      await trapped.kill("SIGTERM");
      expect((await trapped.wait()).exitCode).toBe(3);
      expect(seen.stdout()).toContain("got TERM");

      const token = ctx.token("ptree");
      const tree = await processes.spawn(id, escapingTreeArgv(token));
      const treeSeen = collect(tree);
      await until(ctx, () => treeSeen.stdout().includes("started"), "the escaping tree started");
      await tree.kill();
      const exit = await tree.wait();
      expect(exit.kill, "the exit says what the kill reached").toBeDefined();
      const listing = (await ctx.provider.exec(id, listProcessesArgv)).stdout;
      const survivors = escapedSuffixes.filter((s) => listing.includes(`${token}-${s}`));
      if (survivors.length > 0)
        expect(exit.kill?.complete, `survivors: ${survivors.join(", ")}`).toBe(false);
      else expect(exit.kill?.complete).toBe(true);
      await ctx.provider.exec(id, killByTokenArgv(token, escapedSuffixes)).catch(() => {});
    });

    it(names.deadline, async () => {
      const started = performance.now();
      const handle = await processes.spawn(id, ["sh", "-c", "sleep 600"], {
        timeoutMs: ctx.ms(1_000),
      });
      const exit = await handle.wait();
      expect([exit.timedOut, exit.kill?.complete]).toEqual([true, true]);
      expect(performance.now() - started).toBeLessThan(ctx.ms(30_000));
    });

    it(names.list, async () => {
      const secret = ctx.token("secret-argument");
      const running = await processes.spawn(id, ["sh", "-c", `echo ${secret}; sleep 600`]);
      const ended = await processes.spawn(id, ["sh", "-c", "exit 2"]);
      await ended.wait();
      const listed = await processes.list(id);
      expect(listed.find((p) => p.id === running.id)).toMatchObject({
        state: "running",
        command: "sh",
        pid: running.pid,
      });
      expect(listed.find((p) => p.id === ended.id)).toMatchObject({ state: "exited", exitCode: 2 });
      expect(JSON.stringify(listed)).not.toContain(secret);
      await running.kill();
      await running.wait();
    });

    it(names.attach, async () => {
      const first = await processes.spawn(id, [
        "sh",
        "-c",
        "i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo line $i; done; read x; echo bye $x",
      ]);
      await first.detach();
      const other = await ctx.options.createProvider();
      try {
        const again = await (other.processes as ProviderProcesses).attach(id, first.id);
        const seen = collect(again);
        await until(ctx, () => seen.stdout().includes("line 100\n"), "the replay");
        await again.write("now\n");
        expect((await again.wait()).exitCode).toBe(0);
        const lines = Array.from({ length: 100 }, (_, i) => `line ${i + 1}\n`).join("");
        expect(seen.stdout()).toBe(`${lines}bye now\n`);
        expect(again.missedBytes).toBe(0);
      } finally {
        await other.close?.();
      }
      // The first handle, detached, follows it again for its end.
      expect((await first.wait()).exitCode).toBe(0);
    });

    it(names.ring, async () => {
      const handle = await processes.spawn(id, ["sh", "-c", "head -c 1048576 /dev/zero"], {
        outputBufferBytes: 64 * 1024,
      });
      await handle.detach();
      await until(
        ctx,
        async () => (await processes.list(id)).find((p) => p.id === handle.id)?.state === "exited",
        "its end",
      );
      const late = await processes.attach(id, handle.id);
      const seen = collect(late);
      await late.wait();
      expect(late.missedBytes).toBeGreaterThan(1048576 - 64 * 1024 - 1);
      expect(late.missedBytes + seen.bytes()).toBe(1048576);
    });

    it(names.pty, async () => {
      const handle = await processes.spawn(id, ["sh"], { pty: { rows: 31, cols: 97 } });
      expect(handle.pty).toBe(true);
      const seen = collect(handle);
      await handle.write("stty size; tty; echo err-check >&2\n");
      const terminal = /\/dev\/(pts\/\d+|tty\w*)/;
      await until(
        ctx,
        () =>
          seen.stdout().includes("31 97") &&
          terminal.test(seen.stdout()) &&
          seen.stdout().includes("err-check"),
        "stty size, tty and the line meant for stderr, on the terminal",
      );
      await handle.resize(45, 132);
      await handle.write("stty size\n");
      await until(ctx, () => seen.stdout().includes("45 132"), "the new size");
      await handle.write("exit 5\n");
      expect((await handle.wait()).exitCode).toBe(5);
      expect(seen.stderr()).toBe("");
    });

    it(names.endsWithSession, async () => {
      const own = await ctx.start();
      const marker = ctx.token("ends-with-session");
      const handle = await processes.spawn(own, ["sh", "-c", `sleep 600; echo ${marker}`]);
      const settled = handle.wait().then(
        (exit) => ({ exit }),
        (error: unknown) => ({ error }),
      );
      await ctx.destroy(own);
      const outcome = await settled;
      if ("error" in outcome) {
        const code = (outcome.error as { code?: string }).code;
        expect(["SESSION_NOT_FOUND", "SESSION_NOT_RUNNING"]).toContain(code);
      } else {
        expect(outcome.exit.exitCode).toBeGreaterThan(128);
      }
      await expectErrorCode(processes.list(own), "SESSION_NOT_FOUND");
      if (ctx.report.isolation === "none") expect(hostProcessesWith(marker)).toEqual([]);
    });

    it(names.badInput, async () => {
      const bad = (call: Promise<unknown>) => expectErrorCode(call, "POLICY_INVALID");
      await bad(processes.spawn(id, []));
      await bad(processes.spawn(id, ["a\0b"]));
      await bad(processes.spawn(id, ["true"], { id: "has space" }));
      await bad(processes.spawn(id, ["true"], { id: "x".repeat(65) }));
      await bad(processes.spawn(id, ["true"], { outputBufferBytes: 64 * 1024 - 1 }));
      await bad(processes.spawn(id, ["true"], { outputBufferBytes: 16 * 1024 * 1024 + 1 }));
      await bad(processes.spawn(id, ["true"], { pty: { rows: 0, cols: 80 } }));
      await bad(processes.spawn(id, ["true"], { pty: { rows: 24, cols: 1001 } }));
      await bad(processes.spawn(id, ["true"], { timeoutMs: 0 }));
      await bad(processes.spawn(id, ["true"], { unknown: 1 } as never));
      await bad(processes.attach(id, "no such id!"));
      await bad(processes.attach(id, "p-x", { fromOffset: -1 }));
      await expectErrorCode(processes.attach(id, ctx.token("never-was")), "PROCESS_NOT_FOUND");
      await expectErrorCode(processes.spawn("not-a-session", ["true"]), "SESSION_NOT_FOUND");
      // The largest values the schema allows are served.
      const big = await processes.spawn(id, ["sh", "-c", "sleep 600"], {
        outputBufferBytes: 16 * 1024 * 1024,
        timeoutMs: 2_147_483_647,
        pty: { rows: 1000, cols: 1000 },
        id: `a${"b".repeat(63)}`,
      });
      await bad(big.kill("SIGNOPE" as never));
      await bad(big.kill(65));
      await bad(big.resize(0, 10));
      await expectErrorCode(processes.spawn(id, ["true"], { id: big.id }), "BACKEND_ERROR");
      await big.kill();
      expect((await big.wait()).kill?.complete).toBe(true);
      const late = await processes.attach(id, big.id, { fromOffset: Number.MAX_SAFE_INTEGER });
      expect((await late.wait()).kill).toBeDefined();
    });

    describe("hostile tenant", () => {
      it(hostile.flood, async () => {
        const flood = await processes.spawn(
          id,
          ["sh", "-c", "while :; do cat /dev/zero 2>/dev/null || yes; done"],
          { outputBufferBytes: 64 * 1024 },
        );
        await flood.detach();
        for (let i = 0; i < 5; i++)
          expect((await ctx.provider.exec(id, ["echo", "served"])).stdout).toBe("served\n");
        // It has flooded well past its buffer before anyone follows it again.
        await until(
          ctx,
          async () =>
            ((await processes.list(id)).find((p) => p.id === flood.id)?.outputBytes ?? 0) >
            1024 * 1024,
          "the flood past 1 MiB",
        );
        const listed = (await processes.list(id)).find((p) => p.id === flood.id);
        expect(listed?.state).toBe("running");
        const late = await processes.attach(id, flood.id);
        let got = 0;
        late.stdout.on("data", (c: Buffer) => (got += c.length));
        await late.kill();
        await late.wait();
        // What a late follower gets of a flood is at most what its buffer held, plus what came
        // while it followed: never the whole flood.
        expect(late.missedBytes).toBeGreaterThan(0);
        expect(got).toBeLessThan(listed?.outputBytes ?? Number.POSITIVE_INFINITY);
      });

      it(hostile.cannotKillAgent, async () => {
        if (ctx.report.isolation === "none") {
          // On the host, PID 1 is the host's own init: the probe belongs inside a sandbox.
          expect((await processes.list(id)).length).toBeGreaterThanOrEqual(0);
          return;
        }
        const attacker = await processes.spawn(id, [
          "sh",
          "-c",
          "kill -9 1; kill -TERM 1; kill -9 $PPID; kill -STOP 1; echo tried",
        ]);
        const seen = collect(attacker);
        await attacker.wait();
        expect(seen.stdout()).toContain("tried");
        const after = await processes.spawn(id, ["echo", "still serving"]);
        const afterSeen = collect(after);
        expect((await after.wait()).exitCode).toBe(0);
        expect(afterSeen.stdout()).toBe("still serving\n");
      });

      it(hostile.tooMany, async () => {
        const own = await ctx.start(ctx.enforced("pids") ? { pids: 512 } : {});
        const started: ProcessHandle[] = [];
        let refusedAt = -1;
        for (let i = 0; i < 70 && refusedAt < 0; i++) {
          try {
            started.push(await processes.spawn(own, ["sleep", "600"]));
          } catch (error) {
            expect((error as { code?: string }).code).toBe("RESOURCE_LIMIT");
            refusedAt = i;
          }
        }
        expect(refusedAt, "one process past the limit is refused").toBe(64);
        await ctx.destroy(own);
      }, 240_000);
    });
  });
}
