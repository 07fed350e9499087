import { describe, expect, it } from "vitest";
import { ExecDeadline, execResultOf, OutputCollector } from "../src/index.js";

function parts() {
  // The cap is shared by both streams: 5 bytes, of which "lo!" gets 1.
  const collector = new OutputCollector(5);
  collector.push("stdout", Buffer.from("hel"));
  collector.push("stderr", Buffer.from("e"));
  collector.push("stdout", Buffer.from("lo!"));
  return { collector, deadline: new ExecDeadline(undefined, undefined) };
}

describe("execResultOf", () => {
  it("takes output and flags from the collector and deadline, the signal from the exit code", () => {
    const { collector, deadline } = parts();
    const startedAt = performance.now() - 12.4;
    const result = execResultOf({ exitCode: 137, collector, deadline, startedAt });
    expect(result).toMatchObject({
      exitCode: 137,
      signal: "SIGKILL",
      stdout: "hell",
      stderr: "e",
      truncated: true,
      timedOut: false,
      cause: { kind: "signal", signal: "SIGKILL" },
    });
    expect(Number.isInteger(result.durationMs)).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(12);
    expect(result).not.toHaveProperty("limitExceeded");
    deadline[Symbol.dispose]();
  });

  it("keeps a signal seen by the provider, and none when it said null", () => {
    const { collector, deadline } = parts();
    const base = { collector, deadline, startedAt: performance.now() };
    expect(execResultOf({ ...base, exitCode: 130, signal: "SIGINT" }).signal).toBe("SIGINT");
    expect(execResultOf({ ...base, exitCode: 137, signal: null })).not.toHaveProperty("signal");
    expect(execResultOf({ ...base, exitCode: 0 })).not.toHaveProperty("signal");
    expect(execResultOf({ ...base, exitCode: 137, limitExceeded: "memory" }).limitExceeded).toBe(
      "memory",
    );
    deadline[Symbol.dispose]();
  });
});
