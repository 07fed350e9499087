import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { ExecDeadline } from "../src/index.js";

describe("ExecDeadline", () => {
  it("fires on timeout and says so", async () => {
    using deadline = new ExecDeadline(5, undefined);
    await once(deadline.signal, "abort");
    expect(deadline.timedOut).toBe(true);
    expect(deadline.abortedByCaller).toBe(false);
  });

  it("fires on the caller's abort and keeps the caller's reason", async () => {
    const caller = new AbortController();
    using deadline = new ExecDeadline(60_000, caller.signal);
    const reason = new Error("user pressed stop");
    caller.abort(reason);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut).toBe(false);
    expect(deadline.abortedByCaller).toBe(true);
    expect(deadline.callerReason).toBe(reason);
  });

  it("is already fired for a signal aborted before the call", () => {
    const caller = new AbortController();
    caller.abort();
    using deadline = new ExecDeadline(undefined, caller.signal);
    expect(deadline.signal.aborted).toBe(true);
  });

  it("stops listening once disposed", () => {
    const caller = new AbortController();
    const deadline = new ExecDeadline(undefined, caller.signal);
    deadline[Symbol.dispose]();
    caller.abort();
    expect(deadline.signal.aborted).toBe(false);
  });
});
