import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  type ExecOptions,
  type ExecRequest,
  parseExecRequest,
} from "@cadre/agent-runtime-contract";
import { AgentLink, agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentKillMethod, execThroughAgent, withEnv } from "../src/agent-exec.js";

const defaults = { env: ["PATH=/usr/bin:/bin", "SESSION=yes", "SHARED=session"], cwd: "/tmp" };
let agent: ReturnType<typeof spawn>;
let link: AgentLink;

beforeAll(async () => {
  const binary = agentBinaryPath();
  if (!binary) throw new Error("no cadre-agent binary: build @cadre/agent-runtime-sandbox-agent");
  agent = spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"] });
  link = await AgentLink.open(agent.stdout!, agent.stdin!);
});
afterAll(async () => {
  const exited = once(agent, "exit");
  agent.kill("SIGKILL");
  await exited;
  link.close();
});

const request = (argv: string[], options: ExecOptions = {}): ExecRequest =>
  parseExecRequest(argv, options, "test");
const noJudge = {
  providerId: "test",
  linkClosed: () => Promise.reject(new Error("the link did not close")),
};

describe("execThroughAgent", () => {
  it("gives the command the session's env with the exec's over it, and the session's directory", async () => {
    const r = await execThroughAgent(
      link,
      defaults,
      request(["sh", "-c", "echo $SESSION $SHARED $OWN; pwd"], {
        env: { SHARED: "exec", OWN: "1" },
      }),
      noJudge,
    );
    expect([r.exitCode, r.stdout, r.timedOut, r.truncated]).toEqual([
      0,
      "yes exec 1\n/tmp\n",
      false,
      false,
    ]);
    const elsewhere = await execThroughAgent(
      link,
      defaults,
      request(["pwd"], { cwd: "/" }),
      noJudge,
    );
    expect(elsewhere.stdout).toBe("/\n");
  });

  it("reports a timed-out command as the agent killed it, whole", async () => {
    const r = await execThroughAgent(
      link,
      defaults,
      request(["sh", "-c", "setsid sleep 600 & sleep 600"], { timeoutMs: 300 }),
      noJudge,
    );
    expect(r).toMatchObject({ exitCode: 137, signal: "SIGKILL", timedOut: true });
    expect(r.kill).toEqual({ complete: true, method: agentKillMethod });
  });

  it("rejects with the caller's reason on abort, after the kill", async () => {
    const controller = new AbortController();
    const running = execThroughAgent(
      link,
      defaults,
      request(["sleep", "600"], { signal: controller.signal }),
      noJudge,
    );
    setTimeout(() => controller.abort(new Error("caller gave up")), 100);
    await expect(running).rejects.toThrow("caller gave up");
  });

  it("asks the judge how a command ended on its own, and lets it answer", async () => {
    const r = await execThroughAgent(link, defaults, request(["sh", "-c", "kill -9 $$"]), {
      ...noJudge,
      exited: async (exitCode) => ({ exitCode, limitExceeded: "memory" as const }),
    });
    expect([r.exitCode, r.limitExceeded]).toEqual([137, "memory"]);
  });

  it("asks the judge when the link closes under the command", async () => {
    const dying = spawn(agentBinaryPath()!, [], { stdio: ["pipe", "pipe", "inherit"] });
    const dyingLink = await AgentLink.open(dying.stdout, dying.stdin);
    const running = execThroughAgent(dyingLink, defaults, request(["sleep", "600"]), {
      providerId: "test",
      linkClosed: async () => ({ exitCode: 137, limitExceeded: "memory" as const }),
    });
    dying.kill("SIGKILL");
    const r = await running;
    expect([r.exitCode, r.limitExceeded]).toEqual([137, "memory"]);
  });

  it("withEnv replaces variables by name and keeps the order of the base", () => {
    expect(withEnv(["A=1", "B=2=x"], { B: "3", C: "4" })).toEqual(["A=1", "B=3", "C=4"]);
    expect(withEnv(["A=1"], undefined)).toEqual(["A=1"]);
  });
});

describe("execThroughAgent, when a command cannot start", () => {
  it("says so on stderr as a shell would, with 127 for a program that is not there", async () => {
    const r = await execThroughAgent(link, defaults, request(["cadre-no-such-program"]), noJudge);
    expect([r.exitCode, r.stderr]).toEqual([127, "cadre-no-such-program: command not found\n"]);
    const denied = await execThroughAgent(link, defaults, request(["/etc/hostname"]), noJudge);
    expect(denied.exitCode).toBe(126);
    expect(denied.stderr).toMatch(/^\/etc\/hostname: cannot execute \(E[A-Z]+\)\n$/);
  });

  it("gives a command up, as not verified killed, once its agent stays silent past the grace", async () => {
    const frozen = spawn(agentBinaryPath()!, [], { stdio: ["pipe", "pipe", "inherit"] });
    const frozenLink = await AgentLink.open(frozen.stdout, frozen.stdin);
    try {
      frozen.kill("SIGSTOP");
      const started = performance.now();
      const r = await execThroughAgent(
        frozenLink,
        defaults,
        request(["sleep", "600"], { timeoutMs: 200 }),
        noJudge,
      );
      expect(r).toMatchObject({ exitCode: 137, timedOut: true, kill: { complete: false } });
      expect(r.kill?.method).toContain("did not answer in time");
      // Not before the deadline and its grace (a bound on a loaded host would be a timing test).
      expect(performance.now() - started).toBeGreaterThanOrEqual(200 + 9_000 - 50);
    } finally {
      frozen.kill("SIGKILL");
      frozenLink.close();
    }
  }, 30_000);
});
