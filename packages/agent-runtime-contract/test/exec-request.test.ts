import { describe, expect, it } from "vitest";
import {
  defaultMaxOutputBytes,
  execEndCause,
  PolicyValidationError,
  parseExecRequest,
} from "../src/index.js";

function issuesOf(argv: unknown, options?: unknown): string[] {
  try {
    parseExecRequest(argv, options);
  } catch (error) {
    if (PolicyValidationError.isInstance(error)) return error.issues.map((i) => i.path);
    throw error;
  }
  return [];
}

describe("parseExecRequest", () => {
  it("accepts a plain argv and fills the output cap", () => {
    const request = parseExecRequest(["echo", "hi"], undefined);
    expect(request.argv).toEqual(["echo", "hi"]);
    expect(request.options.maxOutputBytes).toBe(defaultMaxOutputBytes);
  });

  it("rejects empty, non-array, non-string and NUL argv", () => {
    expect(issuesOf([])).toEqual(["argv"]);
    expect(issuesOf("ls -l")).toEqual(["argv"]);
    expect(issuesOf(["ls", 3])).toEqual(["argv[1]"]);
    expect(issuesOf(["ls", "a\0b"])).toEqual(["argv[1]"]);
    expect(issuesOf([""])).toEqual(["argv[0]"]);
  });

  it("rejects bad options, naming each", () => {
    expect(
      issuesOf(["true"], {
        timeoutMs: -5,
        maxOutputBytes: Number.NaN,
        cwd: "relative",
        bogus: 1,
      }).sort(),
    ).toEqual(["options", "options.cwd", "options.maxOutputBytes", "options.timeoutMs"]);
    expect(issuesOf(["true"], { onStdout: "not a function" })).toEqual(["options.onStdout"]);
  });

  it("accepts stdin as text or bytes and an AbortSignal", () => {
    const signal = new AbortController().signal;
    expect(issuesOf(["cat"], { stdin: "x", signal })).toEqual([]);
    expect(issuesOf(["cat"], { stdin: new Uint8Array([0, 255]) })).toEqual([]);
  });
});

describe("why a command ended", () => {
  const base = { timedOut: false, durationMs: 42 };
  it("is one cause read from the result, in order: a limit, the deadline, the session, a signal, its exit", () => {
    expect(execEndCause(base)).toEqual({ kind: "exited" });
    expect(execEndCause({ ...base, signal: "SIGTERM" })).toEqual({
      kind: "signal",
      signal: "SIGTERM",
    });
    expect(execEndCause({ ...base, signal: "SIGKILL" }, { sessionEnded: true })).toEqual({
      kind: "session-ended",
      signal: "SIGKILL",
    });
    expect(execEndCause({ ...base, timedOut: true, signal: "SIGKILL" }, { timeoutMs: 40 })).toEqual(
      {
        kind: "timeout",
        limit: 40,
        value: 42,
      },
    );
    expect(
      execEndCause(
        { ...base, timedOut: true, signal: "SIGKILL", limitExceeded: "memory" },
        { limit: 64 << 20, value: 67_100_000 },
      ),
    ).toEqual({ kind: "memory", limit: 64 << 20, value: 67_100_000 });
    expect(execEndCause({ ...base, limitExceeded: "pids" })).toEqual({ kind: "pids" });
  });
});
