import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { AgentLink, AgentRefusedError } from "../src/agent-link.js";
import { refusalOfExitCode } from "../src/frames.js";
import { binary, hostEnv } from "./agent-process.js";

/**
 * Starts the agent as a plain process with `args` (after `wrapper`, a command that runs it);
 * its link, or why it refused, and its exit.
 */
async function agentWith(args: string[], wrapper: string[] = []) {
  const [program, ...rest] = [...wrapper, binary(), ...args];
  const child = spawn(program!, rest, { stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const link = await AgentLink.open(child.stdout!, child.stdin!).catch((e: unknown) => e);
  return { child, link, exited };
}

describe("cadre-agent --nofile", () => {
  it("sets the open-files limit, soft and hard, of every command", async () => {
    const { child, link, exited } = await agentWith(["--nofile", "100"]);
    expect(link).toBeInstanceOf(AgentLink);
    const out: Buffer[] = [];
    const result = await (link as AgentLink).exec({
      argv: ["sh", "-c", "ulimit -n; ulimit -Hn"],
      env: hostEnv,
      maxOutputBytes: 4096,
      onStdout: (c) => out.push(c),
    });
    expect(result.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe("100\n100\n");
    child.kill("SIGKILL");
    await exited;
    (link as AgentLink).close();
  });

  it("refuses a limit above the hard one it was given, and exits with 64 + the reason", async () => {
    // A hard limit of 64, and (as root) no CAP_SYS_RESOURCE to raise it: the user nobody.
    const lower = ["prlimit", "--nofile=64:64"];
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    const wrapper = process.getuid?.() === 0 ? [...asNobody, ...lower] : lower;
    const { link, exited } = await agentWith(["--nofile", "100"], wrapper);
    expect(link).toBeInstanceOf(AgentRefusedError);
    expect((link as AgentRefusedError).reason).toBe("privileges");
    const [code] = await exited;
    expect(code).toBe(66);
    expect(refusalOfExitCode(code ?? -1)).toBe("privileges");
  });

  it("refuses an unknown --user with exit code 65, read back as a user refusal", async () => {
    const { link, exited } = await agentWith(["--user", "cadre-no-such-user-here"]);
    expect(link).toBeInstanceOf(AgentRefusedError);
    const [code] = await exited;
    expect(code).toBe(65);
    expect(refusalOfExitCode(code ?? -1)).toBe("user");
    expect(refusalOfExitCode(0)).toBeUndefined();
    expect(refusalOfExitCode(137)).toBeUndefined();
  });
});
