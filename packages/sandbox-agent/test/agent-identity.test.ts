import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AgentLink, AgentRefusedError } from "../src/agent-link.js";
import { binary, hostEnv } from "./agent-process.js";

const asRoot = process.getuid?.() === 0;

/** Starts the agent with `args` (as `uid`, default this process's) and opens its link. */
async function agentWith(args: string[], uid?: number) {
  const child = spawn(binary(), args, {
    stdio: ["pipe", "pipe", "inherit"],
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  try {
    return { child, link: await AgentLink.open(child.stdout, child.stdin), stop, exited };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function sh(link: AgentLink, script: string) {
  const out: Buffer[] = [];
  const outcome = await link.exec({
    argv: ["sh", "-c", script],
    env: hostEnv,
    maxOutputBytes: 1 << 20,
    onStdout: (c) => out.push(c),
    onStderr: (c) => out.push(c),
  });
  return { ...outcome, text: Buffer.concat(out).toString("utf8") };
}

describe.skipIf(!asRoot)("cadre-agent --user (the agent as root, here the host's)", () => {
  it("runs every command as that user with no capability at all, and HOME from /etc/passwd", async () => {
    const agent = await agentWith(["--user", "nobody"]);
    try {
      const r = await sh(
        agent.link,
        "id -u; id -g; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; echo HOME=$HOME",
      );
      const lines = r.text.trim().split("\n");
      expect(lines.slice(0, 2)).toEqual(["65534", "65534"]);
      const caps = lines.filter((l) => l.startsWith("Cap"));
      expect(caps).toHaveLength(5);
      for (const line of caps) expect(line, line).toMatch(/:\s+0+$/);
      expect(lines.at(-1)).toMatch(/^HOME=\/\S*/);
      expect(lines.at(-1)).toBe(`HOME=${homeOf("nobody")}`);
    } finally {
      await agent.stop();
    }
  });

  it("keeps its commands from signalling, tracing or reading the agent and their supervisor", async () => {
    const agent = await agentWith(["--user", "65534:65534"]);
    try {
      const pid = agent.link.agentPid;
      const attempts: Record<string, string> = {
        "kill-agent": `kill -9 ${pid}`,
        "kill-supervisor": "kill -9 $PPID",
        environ: `cat /proc/${pid}/environ`,
        fd: `ls /proc/${pid}/fd`,
        "open-stdout": `(exec 3>/proc/${pid}/fd/1)`,
        "open-stdin": `(exec 3</proc/${pid}/fd/0)`,
      };
      const r = await sh(
        agent.link,
        Object.entries(attempts)
          .map(
            ([name, attempt]) =>
              `if ${attempt} >/dev/null 2>&1; then echo ${name}=done; else echo ${name}=denied; fi`,
          )
          .join("\n"),
      );
      expect(r.text.trim().split("\n")).toEqual(
        Object.keys(attempts).map((name) => `${name}=denied`),
      );
      // And the agent still serves.
      expect((await sh(agent.link, "echo alive")).text).toBe("alive\n");
    } finally {
      await agent.stop();
    }
  });

  it("takes a uid of its own with --agent-uid, keeping only its capabilities, and refuses it to commands", async () => {
    const agent = await agentWith(["--agent-uid", "65533", "--user", "0"]);
    try {
      const pid = agent.link.agentPid;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      expect(status).toMatch(/^Uid:\s+65533\s+65533\s+65533\s+65533$/m);
      expect(status).toMatch(/^Gid:\s+65533\s+65533\s+65533\s+65533$/m);
      // KILL, SETGID, SETUID, SETPCAP (bits 5 to 8) kept; CHOWN (bit 0) dropped once its stdio
      // pipes became its own.
      const effective = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"}`);
      expect(effective & 0x1e0n).toBe(0x1e0n);
      expect(effective & 1n).toBe(0n);
      for (const fd of [0, 1]) expect(statSync(`/proc/${pid}/fd/${fd}`).uid).toBe(65533);
      // A uid 0 command without capabilities cannot signal it.
      const r = await sh(
        agent.link,
        `id -u; if kill -9 ${agent.link.agentPid}; then echo killed; fi`,
      );
      expect(r.text.split("\n")[0]).toBe("0");
      expect(r.text).not.toContain("killed");
      expect((await sh(agent.link, "echo alive")).text).toBe("alive\n");
    } finally {
      await agent.stop();
    }
    const refused = await agentWith(["--agent-uid", "65533", "--user", "65533"]).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AgentRefusedError);
    expect((refused as AgentRefusedError).reason).toBe("user");
  });

  it("refuses, instead of greeting, a user the system lacks and its own uid", async () => {
    for (const user of ["cadre-no-such-user", "0", "nobody:cadre-no-such-group"]) {
      const refused = await agentWith(["--user", user]).then(
        async (agent) => {
          await agent.stop();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused, user).toBeInstanceOf(AgentRefusedError);
      expect((refused as AgentRefusedError).reason).toBe("user");
    }
  });

  it("refuses a user it has no privilege to become", async () => {
    const refused = await agentWith(["--user", "0"], 65534).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AgentRefusedError);
    expect((refused as AgentRefusedError).reason).toBe("privileges");
  });
});

function homeOf(user: string): string {
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === user);
  return entry?.[5] || "/";
}
