import { describe, expect, it } from "vitest";
import { useStubProviders } from "./helpers.js";

describe("exec", () => {
  const stub = useStubProviders();

  it("keeps stdout and stderr apart and returns a non-zero exit as a result", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["sh", "-c", "echo out; echo err >&2; exit 7"]);
    expect(result).toMatchObject({
      exitCode: 7,
      stdout: "out\n",
      stderr: "err\n",
      timedOut: false,
      truncated: false,
    });
    expect(result.signal).toBeUndefined();
  });

  it("passes argv without a shell", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["printf", "%s|", "$HOME", "a b", "*", "`id`"]);
    expect(result.stdout).toBe("$HOME|a b|*|`id`|");
  });

  it("reports a command killed by a signal as 128 + n", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["sh", "-c", "kill -9 $$"]);
    expect(result).toMatchObject({ exitCode: 137, signal: "SIGKILL", timedOut: false });
  });

  it("answers a program that does not exist like a shell: 127 and a message", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const missing = await provider.exec(id, ["cadre-no-such-program-xyz", "arg"]);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain("cadre-no-such-program-xyz: command not found");
    expect((await provider.exec(id, ["./not-here"])).exitCode).toBe(127);
    expect((await provider.exec(id, ["/tmp"])).exitCode).toBe(126);
  });

  it("gives the command only the caller's environment, PATH and HOME, and no tag", async () => {
    process.env.CADRE_STUB_TEST_HOST_SECRET = "must-not-leak";
    try {
      const provider = await stub();
      const id = await provider.startSession({ env: { FROM_POLICY: "p", BOTH: "policy" } });
      const result = await provider.exec(id, ["env"], { env: { FROM_EXEC: "e", BOTH: "exec" } });
      const env = Object.fromEntries(
        result.stdout
          .trim()
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      expect(env).toMatchObject({ FROM_POLICY: "p", FROM_EXEC: "e", BOTH: "exec" });
      expect(env.PATH).toBe(process.env.PATH);
      expect(env.HOME).toBe(`${provider.stateDir}/${id}/root`);
      expect(Object.keys(env).sort()).toEqual(
        ["BOTH", "FROM_EXEC", "FROM_POLICY", "HOME", "PATH"].sort(),
      );
    } finally {
      delete process.env.CADRE_STUB_TEST_HOST_SECRET;
    }
  });

  it("maps workdir and cwd into the session's scratch root", async () => {
    const provider = await stub();
    const id = await provider.startSession({ workdir: "/work/src" });
    const root = `${provider.stateDir}/${id}/root`;

    expect((await provider.exec(id, ["pwd"])).stdout).toBe(`${root}/work/src\n`);
    expect((await provider.exec(id, ["pwd"], { cwd: "/tmp" })).stdout).toBe(`${root}/tmp\n`);
    expect((await provider.exec(id, ["pwd"], { cwd: "/" })).stdout).toBe(`${root}\n`);
    // A path as pwd printed it can be passed back.
    expect((await provider.exec(id, ["pwd"], { cwd: `${root}/work` })).stdout).toBe(
      `${root}/work\n`,
    );

    const missing = await provider.exec(id, ["pwd"], { cwd: "/no/such/dir" });
    expect(missing.exitCode).toBe(126);
    expect(missing.stderr).toContain("/no/such/dir");
  });

  it("writes stdin, then closes it; without stdin the command sees EOF at once", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    expect((await provider.exec(id, ["cat"], { stdin: "hello\nworld" })).stdout).toBe(
      "hello\nworld",
    );
    const bytes = new Uint8Array([0, 1, 2, 255, 10]);
    const binary = await provider.exec(id, ["od", "-An", "-tu1"], { stdin: bytes });
    expect(binary.stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "255", "10"]);
    const empty = await provider.exec(id, ["cat"], { timeoutMs: 10_000 });
    expect(empty).toMatchObject({ exitCode: 0, stdout: "", timedOut: false });
  });

  it("does not fail when the command ignores a large stdin", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["true"], { stdin: "x".repeat(4 * 1024 * 1024) });
    expect(result.exitCode).toBe(0);
  });

  it("streams exactly the kept bytes to the callbacks", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const result = await provider.exec(
      id,
      ["sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; echo e$i >&2; i=$((i+1)); done"],
      { onStdout: (c) => out.push(c), onStderr: (c) => err.push(c), maxOutputBytes: 1500 },
    );
    expect(result.truncated).toBe(true);
    expect(Buffer.concat(out).toString()).toBe(result.stdout);
    expect(Buffer.concat(err).toString()).toBe(result.stderr);
    expect(Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr)).toBe(1500);
  });

  it("caps stdout and stderr together", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["sh", "-c", "printf aaaa; printf bbbb >&2"], {
      maxOutputBytes: 6,
    });
    // Which stream arrives first is up to the scheduler; the total is not.
    expect(result).toMatchObject({ truncated: true, exitCode: 0 });
    expect("aaaa".startsWith(result.stdout) && "bbbb".startsWith(result.stderr)).toBe(true);
    expect(result.stdout.length + result.stderr.length).toBe(6);
  });

  it("keeps memory bounded for a command that prints until its timeout", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["yes"], { timeoutMs: 1000, maxOutputBytes: 1000 });
    expect(result).toMatchObject({ timedOut: true, truncated: true, exitCode: 137 });
    expect(result.stdout).toBe("y\n".repeat(500));
  });

  it("drains output past the cap so a big writer finishes instead of blocking", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const rssBefore = process.memoryUsage().rss;
    const result = await provider.exec(id, ["head", "-c", "300000000", "/dev/zero"], {
      maxOutputBytes: 4096,
    });
    expect(result).toMatchObject({ exitCode: 0, truncated: true, timedOut: false });
    expect(result.stdout.length).toBe(4096);
    // 300 MB went through; keeping it would show in the resident set.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
  });

  it("decodes invalid UTF-8 as U+FFFD", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const result = await provider.exec(id, ["printf", "a\\377b"]);
    expect(result.stdout).toBe("a\uFFFDb");
  });

  it("runs execs of one session in parallel", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => provider.exec(id, ["sh", "-c", `echo ${i}`])),
    );
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
  });
});

describe("a command whose session stops under it", () => {
  const stub = useStubProviders();

  it("ends with the cause session-ended", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    let started: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    const running = provider.exec(id, ["sh", "-c", "echo up; sleep 600"], {
      onStdout: () => started(),
    });
    await ready;
    await provider.stopSession(id);
    const result = await running;
    expect(result.cause.kind).toBe("session-ended");
    expect(result.exitCode).toBe(137);
  });
});
