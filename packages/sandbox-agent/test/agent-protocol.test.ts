import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import {
  agentFrame,
  encodeExec,
  encodeFrame,
  type Frame,
  FrameReader,
  hostFrame,
  maxAgentPayload,
} from "../src/frames.js";
import { binary, hostEnv } from "./agent-process.js";

/** Talks raw frames to a fresh agent: what a broken or hostile host would send. */
async function rawAgent() {
  const child = spawn(binary(), [], { stdio: ["pipe", "pipe", "inherit"] });
  const reader = new FrameReader(maxAgentPayload);
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  child.stdout.on("data", (chunk: Buffer) => {
    frames.push(...reader.push(chunk));
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = once(child, "exit");
  const next = async (type: number): Promise<Frame> => {
    for (;;) {
      const index = frames.findIndex((f) => f.type === type);
      if (index >= 0) return frames.splice(index, 1)[0] as Frame;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  await next(agentFrame.hello);
  return { child, next, exited, send: (frame: Buffer) => child.stdin.write(frame) };
}

const execOf = (argv: string[]) =>
  encodeExec({ argv, env: hostEnv, cwd: "", maxOutputBytes: 1024, timeoutMs: 0 });

describe("the agent's side of the protocol", () => {
  it("answers a malformed EXEC with a FAULT on its channel, and keeps serving", async () => {
    const agent = await rawAgent();
    const good = execOf(["true"]);
    const malformed: Buffer[] = [
      good.subarray(0, 10), // cut inside the fixed part
      good.subarray(0, good.length - 1), // the last string without its NUL
      Buffer.concat([good.subarray(0, 17), Buffer.from([0xff, 0xff, 0xff, 0x7f])]), // argc far past the frame
      encodeExec({ argv: [], env: [], cwd: "", maxOutputBytes: 1, timeoutMs: 0 }), // no program
      Buffer.concat([good, Buffer.from("trailing")]),
    ];
    for (const [i, payload] of malformed.entries()) {
      agent.send(encodeFrame(hostFrame.exec, 100 + i, payload));
      const fault = await agent.next(agentFrame.fault);
      expect(fault.channel).toBe(100 + i);
    }
    agent.send(encodeFrame(hostFrame.exec, 7, execOf(["sh", "-c", "exit 4"])));
    const exit = await agent.next(agentFrame.exit);
    expect([exit.channel, exit.payload.readInt32LE(0)]).toEqual([7, 4]);
    agent.child.kill("SIGKILL");
    await agent.exited;
  });

  it("refuses channel 0 and a channel in use", async () => {
    const agent = await rawAgent();
    agent.send(encodeFrame(hostFrame.exec, 0, execOf(["true"])));
    expect((await agent.next(agentFrame.fault)).channel).toBe(0);
    agent.send(encodeFrame(hostFrame.exec, 5, execOf(["sleep", "600"])));
    agent.send(encodeFrame(hostFrame.exec, 5, execOf(["true"])));
    expect((await agent.next(agentFrame.fault)).channel).toBe(5);
    agent.child.kill("SIGKILL");
    await agent.exited;
  });

  it("ends the link on a frame announced past its limit, after saying why", async () => {
    const agent = await rawAgent();
    const header = Buffer.alloc(9);
    header.writeUInt32LE(0xffffffff, 0);
    header.writeUInt8(hostFrame.exec, 4);
    agent.send(header);
    const fault = await agent.next(agentFrame.fault);
    expect(fault.payload.toString()).toContain("limit");
    const [code] = await agent.exited;
    expect(code).toBe(0);
  });
});

describe("the host's side of the protocol", () => {
  it("refuses a frame from the agent past its limit instead of buffering it", () => {
    const reader = new FrameReader(maxAgentPayload);
    const header = Buffer.alloc(9);
    header.writeUInt32LE(maxAgentPayload + 1, 0);
    expect(() => reader.push(header)).toThrow(/past the limit/);
  });

  it("reassembles frames however the stream cuts them", () => {
    const reader = new FrameReader(maxAgentPayload);
    const bytes = Buffer.concat([
      encodeFrame(agentFrame.stdout, 3, Buffer.from("hello")),
      encodeFrame(agentFrame.stderr, 4, Buffer.alloc(0)),
    ]);
    const frames = [...bytes].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.type, f.channel, f.payload.toString()])).toEqual([
      [agentFrame.stdout, 3, "hello"],
      [agentFrame.stderr, 4, ""],
    ]);
  });

  it("gives every frame byte-exact at every cut of the stream, and refuses a cut header past the limit", () => {
    const payloads = [40_000, 0, 1, 9, 65_536, 3].map((length, i) =>
      Buffer.from(Array.from({ length }, (_, j) => (i * 31 + j) % 256)),
    );
    const bytes = Buffer.concat(payloads.map((p, i) => encodeFrame(agentFrame.stdout, i + 1, p)));
    const seen = (pieces: Buffer[], piecewise: boolean) => {
      const reader = new FrameReader(maxAgentPayload, () => piecewise);
      return pieces.flatMap((piece) => reader.push(piece));
    };
    for (let cut = 1; cut < bytes.length; cut += 997) {
      // Two cuts: one here, and one a little further on, inside the same or the next frame.
      const second = Math.min(bytes.length, cut + (cut % 13));
      const pieces = [bytes.subarray(0, cut), bytes.subarray(cut, second), bytes.subarray(second)];
      const whole = seen(pieces, false);
      expect(whole.map((f) => f.channel)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const [i, f] of whole.entries()) expect(f.payload.equals(payloads[i]!)).toBe(true);
      // In pieces: each frame's pieces, in order, make its payload, and the stream cut it at most twice.
      const inPieces = seen(pieces, true);
      expect([...new Set(inPieces.map((f) => f.channel))]).toEqual([1, 2, 3, 4, 5, 6]);
      payloads.forEach((payload, i) => {
        const mine = inPieces.filter((f) => f.channel === i + 1);
        expect(mine.every((f) => f.type === agentFrame.stdout)).toBe(true);
        expect(Buffer.concat(mine.map((f) => f.payload)).equals(payload)).toBe(true);
      });
      expect(inPieces.length).toBeLessThanOrEqual(payloads.length + 3);
    }
    const oversized = Buffer.alloc(9);
    oversized.writeUInt32LE(maxAgentPayload + 1, 0);
    const reader = new FrameReader(maxAgentPayload);
    expect(reader.push(oversized.subarray(0, 2))).toEqual([]);
    expect(() => reader.push(oversized.subarray(2))).toThrow(/past the limit/);
  });
});
