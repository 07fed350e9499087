import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentLink, AgentLinkClosedError } from "../src/agent-link.js";
import { binary, hostEnv, processesWith } from "./agent-process.js";

const asRoot = process.getuid?.() === 0;
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

/** A host that attaches later: `cadre-agent connect` relays its stdio to the agent's socket. */
async function attach(uid?: number) {
  const relay = spawn(binary(), ["connect", socket], {
    stdio: ["pipe", "pipe", "inherit"],
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  const exited = once(relay, "exit");
  try {
    const link = await AgentLink.open(relay.stdout, relay.stdin, 5_000);
    return { link, relay, exited };
  } catch (error) {
    relay.kill("SIGKILL");
    await exited;
    throw error;
  }
}

const echo = (link: AgentLink, text: string) => {
  const out: Buffer[] = [];
  return link
    .exec({
      argv: ["echo", text],
      env: hostEnv,
      maxOutputBytes: 1024,
      onStdout: (c) => out.push(c),
    })
    .then((r) => [r.exitCode, Buffer.concat(out).toString()]);
};

describe("hosts that attach to a running agent", () => {
  it("serve a second host over the socket while the first goes on", async () => {
    const second = await attach();
    try {
      expect(second.link.agentPid).toBe(first.agentPid);
      const [a, b] = await Promise.all([echo(first, "first"), echo(second.link, "second")]);
      expect([a, b]).toEqual([
        [0, "first\n"],
        [0, "second\n"],
      ]);
    } finally {
      second.link.close();
      second.relay.stdin.end();
      await second.exited;
    }
    expect(await echo(first, "still")).toEqual([0, "still\n"]);
  });

  it("kill what a host started once its link is gone: nobody is left to answer to", async () => {
    const tag = `600.${randomBytes(4).readUInt32LE(0)}`;
    const second = await attach();
    const running = second.link.exec({
      argv: ["sh", "-c", `setsid sleep ${tag} & sleep ${tag}`],
      env: hostEnv,
      maxOutputBytes: 1024,
    });
    running.catch(() => {});
    // The command has started once its process is there.
    for (let i = 0; i < 200 && processesWith(tag).length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // sh and both sleeps (their command lines hold the tag).
    expect(processesWith(tag).length).toBe(3);
    second.relay.kill("SIGKILL");
    await second.exited;
    await expect(running).rejects.toBeInstanceOf(AgentLinkClosedError);
    for (let i = 0; i < 300 && processesWith(tag).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(processesWith(tag)).toEqual([]);
  });

  it.skipIf(!asRoot)("refuses a peer of another uid, which never gets a greeting", async () => {
    const refused = await attach(65534).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AgentLinkClosedError);
    expect(await echo(first, "unharmed")).toEqual([0, "unharmed\n"]);
  });
});
