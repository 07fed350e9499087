import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentFaultError, AgentLink } from "../src/agent-link.js";
import { ProcessDetachedError } from "../src/agent-process.js";
import { binary, hostEnv, processesWith } from "./agent-process.js";

const socket = `@cadre-agent-test/${randomBytes(6).toString("hex")}`;
let agent: ReturnType<typeof spawn>;
let first: AgentLink;

beforeAll(async () => {
  agent = spawn(binary(), ["--listen", socket], { stdio: ["pipe", "pipe", "inherit"] });
  first = await AgentLink.open(agent.stdout!, agent.stdin!);
});
afterAll(async () => {
  const exited = once(agent, "exit");
  agent.kill("SIGTERM");
  await exited;
});

/** A second host, through `cadre-agent connect`, and how to let go of it. */
async function secondHost() {
  const relay = spawn(binary(), ["connect", socket], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(relay, "exit");
  const link = await AgentLink.open(relay.stdout, relay.stdin, 5_000);
  return {
    link,
    async close() {
      relay.kill("SIGKILL");
      await exited;
      link.close();
    },
  };
}

const tag = () => `t-${randomBytes(6).toString("hex")}`;

/** Follows a process, collecting what it writes on each stream. */
function collector() {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let missed = 0;
  return {
    output: {
      onOutput: (stream: "stdout" | "stderr", chunk: Buffer) => {
        (stream === "stdout" ? out : err).push(chunk);
      },
      onGap: (n: number) => {
        missed += n;
      },
    },
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
    bytes: () => Buffer.concat(out).length,
    missed: () => missed,
  };
}

async function start(
  link: AgentLink,
  argv: string[],
  extra: { ringBytes?: number; timeoutMs?: number; pty?: { rows: number; cols: number } } = {},
) {
  const seen = collector();
  const id = tag();
  const process = await link.spawn(
    { tag: id, argv, env: hostEnv, ringBytes: extra.ringBytes ?? 1 << 20, ...extra },
    seen.output,
  );
  return { id, process, seen };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check(), what).toBe(true);
}

describe("cadre-agent's processes", () => {
  it("run on, stream their output and end with their exit code", async () => {
    const { process, seen } = await start(first, [
      "sh",
      "-c",
      "echo one; echo two >&2; sleep 0.2; echo three; exit 7",
    ]);
    expect(process.pid).toBeGreaterThan(0);
    const exit = await process.exited;
    expect([exit.exitCode, seen.stdout(), seen.stderr()]).toEqual([7, "one\nthree\n", "two\n"]);
  });

  it("outlive the host that started them; another host attaches and gets the output from the start", async () => {
    const other = await secondHost();
    const process = await other.link.spawn(
      {
        tag: tag(),
        argv: ["sh", "-c", "for i in $(seq 1 200); do echo line $i; done; read go; echo after $go"],
        env: hostEnv,
        ringBytes: 1 << 20,
      },
      collector().output,
    );
    const listed = await first.listProcesses();
    const mine = listed.find((p) => p.pid === process.pid);
    expect(mine).toMatchObject({ running: true, command: "sh" });
    await other.close(); // the host goes; the process goes on
    const seen = collector();
    const { process: again, attached } = await first.attach(mine!.tag, 0, seen.output);
    expect([attached.running, attached.offset, attached.missed]).toEqual([true, 0, 0]);
    await until(() => seen.stdout().includes("line 200"), "the replay of what it wrote before");
    await again.write(Buffer.from("now\n"));
    const exit = await again.exited;
    expect(exit.exitCode).toBe(0);
    expect(seen.stdout()).toBe(
      `${Array.from({ length: 200 }, (_, i) => `line ${i + 1}\n`).join("")}after now\n`,
    );
  });

  it("keep only a bounded ring of output, and say how much a late host missed", async () => {
    const { id, process } = await start(first, ["sh", "-c", "head -c 2000000 /dev/zero"], {
      ringBytes: 64 * 1024,
    });
    process.detach();
    // Wait for its end through a listing, then attach from the start.
    let info = (await first.listProcesses()).find((p) => p.tag === id);
    for (let i = 0; i < 500 && info?.running; i++) {
      await new Promise((r) => setTimeout(r, 10));
      info = (await first.listProcesses()).find((p) => p.tag === id);
    }
    expect(info).toMatchObject({ running: false, exitCode: 0, outputBytes: 2_000_000 });
    const seen = collector();
    const { process: late, attached } = await first.attach(id, 0, seen.output);
    await late.exited;
    expect(attached.missed).toBeGreaterThan(2_000_000 - 64 * 1024);
    expect(attached.missed + seen.bytes()).toBe(2_000_000);
    // From an offset past what it wrote: nothing to replay, the exit at once.
    const { process: none } = await first.attach(id, 2_000_000, collector().output);
    expect((await none.exited).exitCode).toBe(0);
    await expect(process.exited).rejects.toBeInstanceOf(ProcessDetachedError);
  });

  it("are held back by a follower that reads, never lost to it, but not by one that stopped reading", async () => {
    // One that reads: every byte of a fast writer, though the ring is small.
    const reader = await start(first, ["sh", "-c", "head -c 3000000 /dev/zero"], {
      ringBytes: 64 * 1024,
    });
    await reader.process.exited;
    expect([reader.seen.bytes(), reader.seen.missed()]).toEqual([3_000_000, 0]);
    // One that takes its first chunk and then nothing: after its grace the process runs free.
    const id = tag();
    await first.spawn(
      {
        tag: id,
        argv: ["sh", "-c", "head -c 3000000 /dev/zero"],
        env: hostEnv,
        ringBytes: 64 * 1024,
      },
      { onOutput: () => new Promise(() => {}) },
    );
    let info = (await first.listProcesses()).find((p) => p.tag === id);
    for (let i = 0; i < 1000 && info?.running; i++) {
      await new Promise((r) => setTimeout(r, 10));
      info = (await first.listProcesses()).find((p) => p.tag === id);
    }
    expect(info).toMatchObject({ running: false, exitCode: 0, outputBytes: 3_000_000 });
  });

  it("take stdin as it comes, within a window, and end on its EOF", async () => {
    const { process, seen } = await start(first, ["cat"]);
    const input = randomBytes(3 * 1024 * 1024);
    for (let at = 0; at < input.length; at += 100_000)
      await process.write(input.subarray(at, at + 100_000));
    process.closeStdin();
    expect((await process.exited).exitCode).toBe(0);
    await until(() => seen.bytes() === input.length, "all of stdin came back");
  });

  it("take a signal to their group, and a kill of their whole tree", async () => {
    const { process, seen } = await start(first, [
      "sh",
      "-c",
      'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.05; done',
    ]);
    await until(() => seen.stdout().includes("ready"), "ready");
    process.signal(15);
    expect((await process.exited).exitCode).toBe(3);
    expect(seen.stdout()).toContain("got TERM");

    const marker = `600.${randomBytes(4).readUInt32LE(0)}`;
    const tree = await start(first, [
      "sh",
      "-c",
      `setsid sleep ${marker} & (sleep ${marker} &) ; echo started; sleep ${marker}`,
    ]);
    await until(() => tree.seen.stdout().includes("started"), "started");
    tree.process.signal();
    const exit = await tree.process.exited;
    expect(exit.killed?.complete).toBe(true);
    expect(processesWith(marker)).toEqual([]);
  });

  it("end at their deadline, tree and all", async () => {
    const { process } = await start(first, ["sh", "-c", "sleep 600"], { timeoutMs: 300 });
    const exit = await process.exited;
    expect([exit.timedOut, exit.killed?.complete]).toEqual([true, true]);
  });

  it("run on a terminal of the size asked for, resized on request", async () => {
    const { process, seen } = await start(first, ["sh"], { pty: { rows: 30, cols: 100 } });
    await process.write(Buffer.from("stty size; tty\n"));
    await until(() => seen.stdout().includes("30 100"), "stty sees 30 rows, 100 columns");
    expect(seen.stdout()).toMatch(/\/dev\/pts\/\d+/);
    process.resize(40, 120);
    await process.write(Buffer.from("stty size\n"));
    await until(() => seen.stdout().includes("40 120"), "stty sees the new size");
    await process.write(Buffer.from("exit 5\n"));
    expect((await process.exited).exitCode).toBe(5);
    expect(seen.stderr()).toBe("");
  });

  it("refuse a tag in use or not of the form, and attaching to none", async () => {
    const { id, process } = await start(first, ["sleep", "600"]);
    await expect(
      first.spawn(
        { tag: id, argv: ["true"], env: hostEnv, ringBytes: 1 << 16 },
        collector().output,
      ),
    ).rejects.toBeInstanceOf(AgentFaultError);
    await expect(
      first.spawn(
        { tag: "bad tag!", argv: ["true"], env: hostEnv, ringBytes: 1 << 16 },
        collector().output,
      ),
    ).rejects.toBeInstanceOf(AgentFaultError);
    await expect(first.attach("no-such-process", 0, collector().output)).rejects.toBeInstanceOf(
      AgentFaultError,
    );
    process.signal();
    await process.exited;
  });

  it("list with their command, never their arguments", async () => {
    const secret = `s3cret-${randomBytes(4).toString("hex")}`;
    const { id, process } = await start(first, ["sh", "-c", `echo ${secret}; sleep 600`]);
    const listed = (await first.listProcesses()).find((p) => p.tag === id);
    expect(listed?.command).toBe("sh");
    expect(JSON.stringify(listed)).not.toContain(secret);
    process.signal();
    await process.exited;
  });

  it("say 127 for a program that is not there", async () => {
    const { process } = await start(first, ["cadre-no-such-program"]);
    const exit = await process.exited;
    expect([exit.exitCode, exit.startErrno]).toEqual([127, 2]);
  });
});
