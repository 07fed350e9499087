import { access } from "node:fs/promises";
import type { SessionInfo } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { useStubProviders } from "./helpers.js";

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("scripted mode", () => {
  const stub = useStubProviders();

  it("answers a listed argv with its result and streams its output", async () => {
    const provider = await stub({
      script: [
        {
          argv: ["git", "status"],
          result: { exitCode: 1, stdout: "not a git repository\n", stderr: "fatal\n" },
        },
      ],
    });
    const id = await provider.startSession({});
    const out: string[] = [];
    const err: string[] = [];
    const result = await provider.exec(id, ["git", "status"], {
      onStdout: (c) => out.push(Buffer.from(c).toString()),
      onStderr: (c) => err.push(Buffer.from(c).toString()),
    });
    expect(result).toMatchObject({
      exitCode: 1,
      stdout: "not a git repository\n",
      stderr: "fatal\n",
      timedOut: false,
      truncated: false,
    });
    expect(out.join("")).toBe(result.stdout);
    expect(err.join("")).toBe(result.stderr);
  });

  it("runs an argv the script does not list for real", async () => {
    const provider = await stub({ script: [{ argv: ["git", "status"], result: {} }] });
    const id = await provider.startSession({});
    expect((await provider.exec(id, ["git", "status"])).stdout).toBe("");
    expect((await provider.exec(id, ["echo", "real"])).stdout).toBe("real\n");
  });

  it("with scriptOnly, exits 127 for an unlisted argv without running it", async () => {
    const provider = await stub({ script: [], scriptOnly: true });
    const id = await provider.startSession({});
    const marker = `${provider.stateDir}/${id}/root/ran`;
    const result = await provider.exec(id, ["sh", "-c", `touch ${marker}`]);
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toContain("no scripted result");
    expect(await exists(marker)).toBe(false);
  });

  it("calls a script function with argv and the session; undefined falls through", async () => {
    const seen: Array<{ argv: readonly string[]; session: SessionInfo }> = [];
    const provider = await stub({
      script: (argv, session) => {
        seen.push({ argv, session });
        return argv[0] === "deploy" ? { stdout: `deployed ${session.labels.app}\n` } : undefined;
      },
    });
    const id = await provider.startSession({ labels: { app: "shop" } });
    expect(await provider.exec(id, ["deploy"])).toMatchObject({
      exitCode: 0,
      stdout: "deployed shop\n",
    });
    expect((await provider.exec(id, ["echo", "hi"])).stdout).toBe("hi\n");
    expect(seen.map((s) => s.argv)).toEqual([["deploy"], ["echo", "hi"]]);
    expect(seen[0]?.session.id).toBe(id);
  });

  it("caps scripted output like real output", async () => {
    const provider = await stub({
      script: [{ argv: ["big"], result: { stdout: "x".repeat(100), stderr: "y".repeat(100) } }],
    });
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["big"], { maxOutputBytes: 150 });
    expect(result.truncated).toBe(true);
    expect(result.stdout.length + result.stderr.length).toBe(150);
  });

  it("derives the exit code of a scripted signal", async () => {
    const provider = await stub({
      script: [{ argv: ["crash"], result: { signal: "SIGKILL", limitExceeded: "memory" } }],
    });
    const id = await provider.startSession({});
    expect(await provider.exec(id, ["crash"])).toMatchObject({
      exitCode: 137,
      signal: "SIGKILL",
      limitExceeded: "memory",
    });
  });

  it("still checks the session: scripted execs need a running session", async () => {
    const provider = await stub({ script: [{ argv: ["x"], result: {} }] });
    const id = await provider.startSession({});
    await provider.stopSession(id);
    await expect(provider.exec(id, ["x"])).rejects.toMatchObject({ code: "SESSION_NOT_RUNNING" });
    await expect(provider.exec("cadre-0000000000000000", ["x"])).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
  });

  it("turns a broken script into BACKEND_ERROR", async () => {
    const provider = await stub({
      script: (argv) => {
        if (argv[0] === "throw") throw new Error("boom");
        return { exitCode: "zero" as never };
      },
    });
    const id = await provider.startSession({});
    await expect(provider.exec(id, ["throw"])).rejects.toMatchObject({ code: "BACKEND_ERROR" });
    await expect(provider.exec(id, ["bad"])).rejects.toMatchObject({ code: "BACKEND_ERROR" });
  });

  it("rejects a malformed script list when the provider is created", async () => {
    await expect(stub({ script: [{ argv: [], result: {} }] })).rejects.toMatchObject({
      code: "POLICY_INVALID",
    });
  });
});
