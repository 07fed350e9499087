import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentExecRequest, AgentLink, AgentLinkClosedError } from "../src/agent-link.js";
import { FrameReader, hostFrame, maxHostPayload } from "../src/frames.js";
import { binary, hostEnv, processesWith, type RunningAgent, startAgent } from "./agent-process.js";

let agent: RunningAgent;
beforeAll(async () => {
  agent = await startAgent();
});
afterAll(async () => {
  await agent.stop();
});

interface Collected {
  stdout: Buffer;
  stderr: Buffer;
}

async function run(argv: string[], extra: Partial<AgentExecRequest> = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const outcome = await agent.link.exec({
    argv,
    env: hostEnv,
    maxOutputBytes: 16 * 1024 * 1024,
    onStdout: (c) => out.push(c),
    onStderr: (c) => err.push(c),
    ...extra,
  });
  const collected: Collected = { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  return { ...outcome, ...collected, text: collected.stdout.toString("utf8") };
}

/** A sleep's argument no other process has: 600 seconds and a random fraction. */
const marker = () => `600.${randomBytes(4).readUInt32LE(0)}`;

describe("cadre-agent runs commands", () => {
  it("greets with its protocol and pid", () => {
    expect(agent.link.agentPid).toBe(agent.child.pid);
  });

  it("returns exit codes 0, 3 and 255 and keeps stdout and stderr apart", async () => {
    for (const code of [0, 3, 255]) {
      const r = await run(["sh", "-c", `echo out; echo err >&2; exit ${code}`]);
      expect([r.exitCode, r.signal, r.text, r.stderr.toString()]).toEqual([
        code,
        0,
        "out\n",
        "err\n",
      ]);
    }
  });

  it("passes argv literally, with exactly the env and cwd given", async () => {
    const r = await run(["printf", "%s|", "$HOME", "a b", "*", ";"], {});
    expect(r.text).toBe("$HOME|a b|*|;|");
    const env = await run(["env"], { env: [...hostEnv, "ONLY=this one"], cwd: "/tmp" });
    expect(env.text.split("\n").filter(Boolean).sort()).toEqual(
      [...hostEnv, "ONLY=this one"].sort(),
    );
    expect((await run(["pwd"], { cwd: "/tmp" })).text).toBe("/tmp\n");
  });

  it("streams stdin byte for byte (2 MiB, every byte value) and gives EOF without it", async () => {
    const input = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 11)) & 0xff;
    const r = await run(["cat"], { stdin: input });
    expect(r.stdout.equals(input)).toBe(true);
    expect((await run(["cat"])).stdout.length).toBe(0);
  });

  it("says 127 with ENOENT for a program that is not there, 126 for one it cannot run", async () => {
    const missing = await run(["cadre-no-such-program"]);
    expect([missing.exitCode, missing.startErrno]).toEqual([127, 2]);
    const notRunnable = await run(["/etc/hostname"]);
    expect(notRunnable.exitCode).toBe(126);
    expect(notRunnable.startErrno).toBeGreaterThan(0);
  });

  it("reports a command ended by a signal with 128 + n and the signal", async () => {
    const r = await run(["sh", "-c", "kill -TERM $$"]);
    expect([r.exitCode, r.signal]).toEqual([143, 15]);
  });

  it("caps output inside the sandbox and drains the rest, so the writer finishes", async () => {
    const r = await run(["head", "-c", "10000000", "/dev/zero"], { maxOutputBytes: 1000 });
    expect([r.exitCode, r.truncated, r.stdout.length]).toEqual([0, true, 1000]);
  });

  it("runs 20 execs at once, each with its own result", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(["sh", "-c", `echo ${i}; exit ${i}`])),
    );
    expect(results.map((r) => [r.exitCode, r.text])).toEqual(
      Array.from({ length: 20 }, (_, i) => [i, `${i}\n`]),
    );
  });

  it("lets other execs finish while one floods its output", async () => {
    const controller = new AbortController();
    const flood = run(["yes", "flood"], { signal: controller.signal, maxOutputBytes: 2 ** 40 });
    const others = await Promise.all(Array.from({ length: 10 }, () => run(["echo", "ok"])));
    expect(others.map((r) => r.text)).toEqual(Array(10).fill("ok\n"));
    controller.abort();
    const flooded = await flood;
    expect(flooded.killed?.complete).toBe(true);
    expect(flooded.stdout.length).toBeGreaterThan(0);
  });
});

describe("cadre-agent's flow control", () => {
  it("keeps stderr whole when stdout used up the host's credit in the same round", async () => {
    // The host takes each chunk late, so both pipes are full whenever credit comes back; the
    // stdout read then spends it all, and the stderr read right after must wait, not end.
    for (let round = 0; round < 6; round++) {
      const err: Buffer[] = [];
      const out = await agent.link.exec({
        argv: ["sh", "-c", "head -c 600000 /dev/zero; echo done >&2"],
        env: hostEnv,
        maxOutputBytes: 16 * 1024 * 1024,
        onStdout: () => new Promise((resolve) => setTimeout(resolve, 2)),
        onStderr: (c) => {
          err.push(c);
        },
      });
      expect([out.exitCode, Buffer.concat(err).toString()]).toEqual([0, "done\n"]);
    }
  });

  it("gives credit back in batches of a quarter of the window, and never leaves the agent waiting", async () => {
    // The host's frames to the agent pass a tap that counts the CREDIT frames among them.
    const child = spawn(binary(), [], { stdio: ["pipe", "pipe", "inherit"] });
    const tap = new PassThrough();
    tap.pipe(child.stdin);
    const credits: number[] = [];
    const reader = new FrameReader(maxHostPayload);
    tap.on("data", (chunk: Buffer) => {
      for (const f of reader.push(chunk))
        if (f.type === hostFrame.credit) credits.push(f.payload.readUInt32LE(0));
    });
    const link = await AgentLink.open(child.stdout, tap);
    try {
      const bytes = 8 * 1024 * 1024;
      for (const outputWindow of [undefined, 1024 * 1024]) {
        credits.length = 0;
        let got = 0;
        const outcome = await link.exec({
          argv: ["head", "-c", String(bytes), "/dev/zero"],
          env: hostEnv,
          maxOutputBytes: bytes,
          ...(outputWindow ? { outputWindow } : {}),
          // Taken late now and then, so that credit is owed across rounds of the event loop.
          onStdout: (c) => {
            got += c.length;
            return got % 3 === 0 ? new Promise((resolve) => setTimeout(resolve, 1)) : undefined;
          },
        });
        expect([outcome.exitCode, got]).toEqual([0, bytes]);
        const window = outputWindow ?? 256 * 1024;
        // The first credit of a wider window widens it; after that, none smaller than a quarter.
        const batches = outputWindow ? credits.slice(1) : credits;
        expect(batches.every((n) => n >= window / 4)).toBe(true);
        expect(batches.length).toBeLessThanOrEqual(bytes / (window / 4));
      }
    } finally {
      child.kill("SIGKILL");
      link.close();
    }
  });
});

describe("cadre-agent's deadline", () => {
  it("kills a command that calls setsid, double-forks and clears its env, and says it verified", async () => {
    const tag = marker();
    const escaping = `setsid sh -c '(env -i /bin/sh -c "/bin/sleep ${tag}" &) ; sleep ${tag}' & sleep ${tag}`;
    const r = await run(["sh", "-c", escaping], { timeoutMs: 1500 });
    expect([r.timedOut, r.exitCode, r.signal]).toEqual([true, 137, 9]);
    expect(r.killed).toEqual({ complete: true, survivors: 0 });
    expect(processesWith(tag)).toEqual([]);
  });

  it("keeps what the command wrote before its deadline", async () => {
    const tag = marker();
    const r = await run(["sh", "-c", `echo started; echo also >&2; sleep ${tag}`], {
      timeoutMs: 500,
    });
    expect([r.timedOut, r.text, r.stderr.toString()]).toEqual([true, "started\n", "also\n"]);
  });

  it("kills the whole tree on abort", async () => {
    const tag = marker();
    const controller = new AbortController();
    const running = run(["sh", "-c", `(sleep ${tag} &); sleep ${tag}`], {
      signal: controller.signal,
    });
    // The abort follows the command's start: its STARTED frame has come once pid is known.
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const r = await running;
    expect(r.killed?.complete).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(processesWith(tag)).toEqual([]);
  });

  it("kills what a command leaves when it kills its own supervisor", async () => {
    const tag = marker();
    // $PPID of the shell is its supervisor; the background sleep outlives it.
    const r = await run(["sh", "-c", `(sleep ${tag} &); kill -9 $PPID; sleep ${tag}`]);
    expect(r.killed?.complete).toBe(true);
    expect(processesWith(tag)).toEqual([]);
  });

  it("keeps the agent and its supervisors out of a same-user tenant's reach (not dumpable)", async () => {
    // An agent running as nobody, and commands as nobody: the kernel lets a process read another
    // one's /proc files of the same user only when that one is dumpable.
    const child = spawn(binary(), [], {
      stdio: ["pipe", "pipe", "inherit"],
      uid: 65534,
      gid: 65534,
    });
    const link = await AgentLink.open(child.stdout, child.stdin);
    try {
      const probe = (path: string) => `cat ${path} >/dev/null 2>&1; echo $?`;
      const out: Buffer[] = [];
      const r = await link.exec({
        argv: [
          "sh",
          "-c",
          [
            probe("/proc/$$/environ"),
            probe("/proc/$PPID/environ"),
            probe(`/proc/${link.agentPid}/environ`),
          ].join("; "),
        ],
        env: hostEnv,
        maxOutputBytes: 4096,
        onStdout: (c) => out.push(c),
      });
      expect(r.exitCode).toBe(0);
      // its own environ: readable; its supervisor's and the agent's: not.
      expect(Buffer.concat(out).toString()).toBe("0\n1\n1\n");
    } finally {
      child.kill("SIGKILL");
      link.close();
    }
  });
});

describe("cadre-agent's commands' signals", () => {
  it("start at every signal's default, whatever the agent's own parent ignored", async () => {
    // A parent that ignores signals (as nohup does) passes that on through exec to the agent.
    const child = spawn("sh", ["-c", `trap '' HUP USR2 PIPE TERM; exec "$0"`, binary()], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const link = await AgentLink.open(child.stdout, child.stdin);
    try {
      const out: Buffer[] = [];
      const outcome = await link.exec({
        argv: ["cat", "/proc/self/status"],
        env: hostEnv,
        maxOutputBytes: 1024 * 1024,
        onStdout: (c) => out.push(c),
      });
      expect(outcome.exitCode).toBe(0);
      const status = Buffer.concat(out).toString();
      expect(status).toMatch(/^SigIgn:\s+0{16}$/m);
      expect(status).toMatch(/^SigCgt:\s+0{16}$/m);
    } finally {
      child.kill("SIGKILL");
      link.close();
    }
  });
});

describe("cadre-agent's link", () => {
  it("rejects every running exec with AgentLinkClosedError when the agent dies", async () => {
    const dying = await startAgent();
    const running = dying.link.exec({ argv: ["sleep", "600"], env: hostEnv, maxOutputBytes: 1024 });
    dying.child.kill("SIGKILL");
    await expect(running).rejects.toBeInstanceOf(AgentLinkClosedError);
    await dying.stop();
  });
});
