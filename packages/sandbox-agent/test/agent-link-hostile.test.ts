import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { AgentLink, AgentLinkClosedError } from "../src/agent-link.js";
import {
  agentFrame,
  encodeFrame,
  FrameReader,
  hostFrame,
  maxHostPayload,
  protocolName,
} from "../src/frames.js";

/**
 * An "agent" that greets properly and then sends whatever the test says: the host must bound and
 * check every frame, since what comes out of a sandbox is the tenant's to shape.
 */
async function fakeAgent() {
  const fromAgent = new PassThrough();
  const toAgent = new PassThrough();
  const execChannels: number[] = [];
  const reader = new FrameReader(maxHostPayload);
  toAgent.on("data", (chunk: Buffer) => {
    for (const f of reader.push(chunk)) if (f.type === hostFrame.exec) execChannels.push(f.channel);
  });
  const hello = Buffer.alloc(protocolName.length + 5);
  hello.write(protocolName, "latin1");
  hello.writeUInt32LE(42, protocolName.length + 1);
  fromAgent.write(encodeFrame(agentFrame.hello, 0, hello));
  const link = await AgentLink.open(fromAgent, toAgent);
  return { link, execChannels, send: (frame: Buffer) => fromAgent.write(frame) };
}

/** An exec that the fake agent never answers. */
function execOn(link: AgentLink) {
  const running = link.exec({ argv: ["true"], env: [], maxOutputBytes: 16 });
  running.catch(() => {});
  return running;
}

const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
};

describe("the host's side against a hostile agent", () => {
  /** Each frame for the running exec's channel. */
  const broken: Array<[string, (channel: number) => Buffer]> = [
    ["a STARTED of 2 bytes", (c) => encodeFrame(agentFrame.started, c, Buffer.alloc(2))],
    ["a STDIN_ACK of 7 bytes", (c) => encodeFrame(agentFrame.stdinAck, c, Buffer.alloc(7))],
    ["an EXIT of 3 bytes", (c) => encodeFrame(agentFrame.exit, c, Buffer.alloc(3))],
    ["a frame of unknown type", (c) => encodeFrame(0x99, c, Buffer.alloc(1))],
    ["a STDIN_ACK for stdin never sent", (c) => encodeFrame(agentFrame.stdinAck, c, u32(1e6))],
    [
      "a frame past 64 KiB",
      () => Buffer.from([0xff, 0xff, 0xff, 0x7f, agentFrame.stdout, 0, 0, 0, 0]),
    ],
  ];

  for (const [what, frame] of broken) {
    it(`ends the link on ${what}, and every exec on it fails typed instead of hanging`, async () => {
      const { link, send, execChannels } = await fakeAgent();
      const running = execOn(link);
      await new Promise((resolve) => setImmediate(resolve));
      expect(execChannels).toHaveLength(1);
      send(frame(execChannels[0] as number));
      const reason = await link.closed;
      expect(reason.length).toBeGreaterThan(0);
      await expect(running).rejects.toBeInstanceOf(AgentLinkClosedError);
      await expect(execOn(link)).rejects.toBeInstanceOf(AgentLinkClosedError);
    });
  }

  it("keeps control characters of the agent's text out of error messages", async () => {
    const { link, send } = await fakeAgent();
    send(encodeFrame(agentFrame.fault, 0, Buffer.from("bad\u001b[31m\nnews")));
    expect(await link.closed).toBe("the agent failed: bad?[31m?news");
  });
});
