import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lingeringTreeArgv, listProcessesArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.exec;

/** "1\n2\n...\nn\n", what `seq 1 n` prints. */
export function seqOutput(n: number): string {
  let out = "";
  for (let i = 1; i <= n; i++) out += `${i}\n`;
  return out;
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c)));
}

export function registerExec(ctx: ConformanceContext): void {
  describe("exec", () => {
    const timeout = () => ctx.ms(60_000);
    const policyEnv = { CADRE_POLICY_ONLY: "policy", CADRE_BOTH: "policy" };
    let session = "";

    beforeAll(async () => {
      session = await ctx.startShared(ctx.enforced("env") ? { env: policyEnv } : {});
    }, ctx.ms(60_000));
    afterAll(() => ctx.destroyShared(), ctx.ms(60_000));

    const exec = (argv: string[], options?: Parameters<typeof ctx.provider.exec>[2]) =>
      ctx.provider.exec(session, argv, options);

    /**
     * A provider that says it cannot stream may deliver the callbacks late, but not differently:
     * the result is complete and the callbacks still get exactly its bytes, each on its own stream.
     */
    const expectCompleteWithoutStreaming = async () => {
      expect(ctx.report.features.streaming, "the report says features.streaming").toBe(false);
      const out: Uint8Array[] = [];
      const err: Uint8Array[] = [];
      const script = "echo ready; echo warn >&2; seq 1 2000; echo done; exit 4";
      const result = await exec(["sh", "-c", script], {
        timeoutMs: ctx.ms(20_000),
        onStdout: (c) => out.push(c),
        onStderr: (c) => err.push(c),
      });
      const expected = `ready\n${seqOutput(2000)}done\n`;
      expect(result).toMatchObject({ exitCode: 4, timedOut: false, truncated: false });
      expect(result.stdout === expected, "the whole stdout arrived, in order").toBe(true);
      expect(result.stderr).toBe("warn\n");
      expect(concat(out).toString("utf8") === expected, "onStdout got exactly stdout").toBe(true);
      expect(concat(err).toString("utf8")).toBe("warn\n");
    };

    it(
      names.exitCodes,
      async () => {
        const results = await Promise.all(
          [0, 3, 255].map((code) => exec(["sh", "-c", `exit ${code}`])),
        );
        expect(results.map((r) => r.exitCode)).toEqual([0, 3, 255]);
        for (const r of results) expect(r.timedOut).toBe(false);
      },
      timeout(),
    );

    it(
      names.stdoutStderrApart,
      async () => {
        const script = "i=1; while [ $i -le 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done";
        const result = await exec(["sh", "-c", script]);
        const lines = (prefix: string) =>
          Array.from({ length: 200 }, (_, i) => `${prefix}${i + 1}\n`).join("");
        expect(result.exitCode).toBe(0);
        expect(result.stdout).toBe(lines("out"));
        expect(result.stderr).toBe(lines("err"));
      },
      timeout(),
    );

    it(
      names.callbacksApart,
      async () => {
        const out: Uint8Array[] = [];
        const err: Uint8Array[] = [];
        const result = await exec(["sh", "-c", "echo to-out; echo to-err >&2; echo more-out"], {
          onStdout: (c) => out.push(c),
          onStderr: (c) => err.push(c),
        });
        expect(concat(out).toString("utf8")).toBe("to-out\nmore-out\n");
        expect(concat(err).toString("utf8")).toBe("to-err\n");
        expect(result.stdout).toBe("to-out\nmore-out\n");
        expect(result.stderr).toBe("to-err\n");
      },
      timeout(),
    );

    it(
      names.streaming,
      async () => {
        if (!ctx.report.features.streaming) {
          await expectCompleteWithoutStreaming();
          return;
        }
        const gate = `/tmp/${ctx.token("gate")}`;
        const script = `echo ready; while [ ! -e ${gate} ]; do sleep 0.1 2>/dev/null || sleep 1; done; rm -f ${gate}; echo done`;
        let opened: Promise<unknown> | undefined;
        const result = await exec(["sh", "-c", script], {
          timeoutMs: ctx.ms(20_000),
          onStdout: (chunk) => {
            // The command waits for a file that only this callback creates: without streaming it
            // never ends before its timeout.
            if (!opened && Buffer.from(chunk).toString("utf8").includes("ready")) {
              opened = ctx.provider.exec(session, ["touch", gate]);
            }
          },
        });
        expect(opened, "onStdout was called with the first line").toBeDefined();
        await opened;
        expect(result.timedOut).toBe(false);
        expect(result.stdout).toBe("ready\ndone\n");
      },
      timeout(),
    );

    it(
      names.env,
      async () => {
        const result = await exec(
          [
            "sh",
            "-c",
            'printf "%s|%s|%s\\n" "$CADRE_POLICY_ONLY" "$CADRE_BOTH" "$CADRE_EXEC_ONLY"',
          ],
          { env: { CADRE_BOTH: "exec", CADRE_EXEC_ONLY: "exec value with spaces; $HOME" } },
        );
        const policyOnly = ctx.enforced("env") ? "policy" : "";
        expect(result.stdout).toBe(`${policyOnly}|exec|exec value with spaces; $HOME\n`);
      },
      timeout(),
    );

    it(
      names.cwd,
      async () => {
        const file = ctx.token("relative");
        const pwd = await exec(["sh", "-c", `pwd; echo here > ${file}`], { cwd: "/tmp" });
        expect(pwd.exitCode).toBe(0);
        // A provider without a root of its own (the stub) maps "/" to a scratch directory.
        expect(pwd.stdout).toMatch(/(^|\/)tmp\n$/);
        const same = await exec(["cat", file], { cwd: "/tmp" });
        expect(same.stdout, "a relative path resolves in cwd").toBe("here\n");
        const elsewhere = await exec(["cat", file], { cwd: "/" });
        expect(elsewhere.exitCode, "the file is not in another directory").not.toBe(0);
        await exec(["rm", "-f", file], { cwd: "/tmp" });
      },
      timeout(),
    );

    it(
      names.stdinText,
      async () => {
        const text = "first line\nsecond line, no newline at the end";
        const result = await exec(["cat"], { stdin: text, timeoutMs: ctx.ms(20_000) });
        expect(result).toMatchObject({ exitCode: 0, stdout: text, timedOut: false });
        const count = await exec(["wc", "-l"], { stdin: "a\nb\nc\n", timeoutMs: ctx.ms(20_000) });
        expect(count.stdout.trim()).toBe("3");
      },
      timeout(),
    );

    it(
      names.stdinAbsent,
      async () => {
        const result = await exec(["cat"], { timeoutMs: ctx.ms(20_000) });
        expect(result).toMatchObject({ exitCode: 0, stdout: "", timedOut: false });
      },
      timeout(),
    );

    it(
      names.binaryRoundTrip,
      async () => {
        const input = Buffer.alloc(2 * 1024 * 1024);
        for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 8)) & 0xff;
        const chunks: Uint8Array[] = [];
        const result = await exec(["cat"], {
          stdin: new Uint8Array(input),
          onStdout: (c) => chunks.push(c),
          timeoutMs: ctx.ms(30_000),
        });
        expect(result.exitCode).toBe(0);
        expect(result.truncated).toBe(false);
        const output = concat(chunks);
        expect(output.length).toBe(input.length);
        expect(output.equals(input), "the bytes that came back differ from stdin").toBe(true);
        const sum = await exec(["md5sum"], { stdin: new Uint8Array(input) });
        expect(sum.stdout.split(" ")[0]).toBe(createHash("md5").update(input).digest("hex"));
      },
      timeout(),
    );

    it(
      names.invalidUtf8,
      async () => {
        const result = await exec(["sh", "-c", "printf 'a\\377\\376b\\n'; echo done"]);
        expect(result.exitCode).toBe(0);
        expect(result.stdout).toBe("a\uFFFD\uFFFDb\ndone\n");
      },
      timeout(),
    );

    it(
      names.largeOutput,
      async () => {
        const n = 700_000;
        const result = await exec(["seq", "1", String(n)], { timeoutMs: ctx.ms(60_000) });
        expect(result.exitCode).toBe(0);
        expect(result.truncated).toBe(false);
        expect(result.stdout.length).toBeGreaterThan(4 * 1024 * 1024);
        expect(result.stdout === seqOutput(n), "seq 1 700000 arrived altered").toBe(true);
      },
      timeout(),
    );

    it(
      names.noShell,
      async () => {
        const args = ["$HOME", ";", "*", "`id`", "$(id)", "'quoted'", "a b", "|", ">x"];
        const result = await exec(["echo", ...args]);
        expect(result).toMatchObject({ exitCode: 0, stdout: `${args.join(" ")}\n` });
      },
      timeout(),
    );

    it(
      names.missingProgram,
      async () => {
        const result = await exec([ctx.token("cadre-no-such-program")]);
        expect(result.exitCode).not.toBe(0);
      },
      timeout(),
    );

    it(
      names.missingProgram127,
      async () => {
        const result = await exec([ctx.token("cadre-no-such-program")]);
        expect(result.exitCode).toBe(127);
      },
      timeout(),
    );

    it(
      names.timeout,
      async () => {
        const token = ctx.token();
        const result = await exec(lingeringTreeArgv(token), { timeoutMs: ctx.ms(3_000) });
        expect(result.timedOut).toBe(true);
        expect(result.exitCode).not.toBe(0);
        expect(result.stdout, "output before the deadline is kept").toContain("started");
        const listing = await exec(listProcessesArgv);
        expect(listing.stdout, "the process listing works").toContain("/proc/[0-9]*/cmdline");
        expect(listing.stdout.includes(token), "a process of the timed-out command survived").toBe(
          false,
        );
      },
      timeout(),
    );

    it(
      names.causes,
      async () => {
        for (const code of [0, 3]) {
          const r = await exec(["sh", "-c", `exit ${code}`]);
          expect(r.cause, `exit ${code}`).toEqual({ kind: "exited" });
        }
        const signalled = await exec(["sh", "-c", "kill -TERM $$"]);
        expect(signalled.cause).toEqual({ kind: "signal", signal: "SIGTERM" });
        expect(signalled.signal).toBe("SIGTERM");
        const timeoutMs = ctx.ms(1_500);
        const late = await exec(["sleep", "60"], { timeoutMs });
        expect(late.cause.kind).toBe("timeout");
        expect(late.cause.limit).toBe(timeoutMs);
        expect(late.cause.value ?? 0, "how long it ran").toBeGreaterThanOrEqual(timeoutMs - 50);
      },
      timeout(),
    );

    it(
      names.abort,
      async () => {
        const token = ctx.token();
        const controller = new AbortController();
        const reason = new Error(`aborted by the conformance suite (${token})`);
        let seen = "";
        const running = exec(lingeringTreeArgv(token), {
          signal: controller.signal,
          timeoutMs: ctx.ms(30_000),
          onStdout: (chunk) => {
            seen += Buffer.from(chunk).toString("utf8");
            if (seen.includes("started")) controller.abort(reason);
          },
        });
        let fallback: NodeJS.Timeout | undefined;
        if (!ctx.report.features.streaming) {
          fallback = setTimeout(() => controller.abort(reason), ctx.ms(1_000));
        }
        try {
          await expect(running).rejects.toBe(reason);
        } finally {
          clearTimeout(fallback);
        }
        const listing = await exec(listProcessesArgv);
        expect(listing.stdout).toContain("/proc/[0-9]*/cmdline");
        expect(listing.stdout.includes(token), "a process of the aborted command survived").toBe(
          false,
        );
      },
      timeout(),
    );

    it(
      names.outputCapEndless,
      async () => {
        const cap = 64 * 1024;
        const seen: Uint8Array[] = [];
        const result = await exec(["yes"], {
          maxOutputBytes: cap,
          timeoutMs: ctx.ms(2_000),
          onStdout: (c) => seen.push(c),
        });
        expect(result.truncated).toBe(true);
        const kept = Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr);
        expect(kept).toBeLessThanOrEqual(cap);
        expect(kept).toBeGreaterThan(0);
        expect(result.stdout).toMatch(/^(y\n)*y?$/);
        expect(concat(seen).toString("utf8")).toBe(result.stdout);
      },
      timeout(),
    );

    it(
      names.outputCapDrains,
      async () => {
        const cap = 1_000;
        const result = await exec(["seq", "1", "200000"], {
          maxOutputBytes: cap,
          timeoutMs: ctx.ms(30_000),
        });
        expect(result).toMatchObject({ exitCode: 0, timedOut: false, truncated: true });
        expect(result.stdout.length).toBeGreaterThan(0);
        expect(result.stdout.length).toBeLessThanOrEqual(cap);
        expect(seqOutput(200_000).startsWith(result.stdout)).toBe(true);
      },
      timeout(),
    );

    it(
      names.outputCapShared,
      async () => {
        const cap = 5_000;
        const result = await exec(["sh", "-c", "seq 1 20000; seq 1 20000 >&2"], {
          maxOutputBytes: cap,
          timeoutMs: ctx.ms(30_000),
        });
        expect(result.truncated).toBe(true);
        expect(result.stdout.length + result.stderr.length).toBeLessThanOrEqual(cap);
        const full = seqOutput(20_000);
        expect(full.startsWith(result.stdout)).toBe(true);
        expect(full.startsWith(result.stderr)).toBe(true);
      },
      timeout(),
    );

    it(
      names.parallel,
      async () => {
        const sizes = Array.from({ length: 8 }, (_, i) => 2_000 * (i + 1));
        const results = await Promise.all(
          sizes.map((n) =>
            exec(["sh", "-c", 'seq 1 "$1"; echo "done $1" >&2; exit $(($1 % 7))', "sh", String(n)]),
          ),
        );
        results.forEach((result, i) => {
          const n = sizes[i]!;
          expect(result.stdout === seqOutput(n), `exec ${i} got another exec's output`).toBe(true);
          expect(result.stderr).toBe(`done ${n}\n`);
          expect(result.exitCode).toBe(n % 7);
        });
      },
      timeout(),
    );
  });
}
