import { describe, expect, it } from "vitest";
import {
  bindSession,
  CapabilityMismatchError,
  type IsolationProvider,
  PolicyValidationError,
  parseAttachRequest,
  parseSignal,
  parseSpawnRequest,
  processLimits,
} from "../src/index.js";

const paths = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyValidationError);
    return (error as PolicyValidationError).issues.map((i) => i.path);
  }
  throw new Error("expected POLICY_INVALID");
};

describe("spawn and attach requests", () => {
  it("take argv and options at the edges of the schema", () => {
    const ok = parseSpawnRequest(["sh", "-c", "x"], {
      outputBufferBytes: processLimits.maxOutputBufferBytes,
      pty: { rows: 1000, cols: 1 },
      id: "a".repeat(64),
      timeoutMs: 2_147_483_647,
    });
    expect(ok.options.pty).toEqual({ rows: 1000, cols: 1 });
    expect(parseSpawnRequest(["true"], undefined).options).toEqual({});
  });

  it("name every bad path", () => {
    expect(
      paths(() =>
        parseSpawnRequest([], {
          outputBufferBytes: processLimits.minOutputBufferBytes - 1,
          pty: { rows: 0, cols: 1001 },
          id: "no spaces",
          extra: 1,
        }),
      ).sort(),
    ).toEqual(
      [
        "argv",
        "options",
        "options.id",
        "options.outputBufferBytes",
        "options.pty.cols",
        "options.pty.rows",
      ].sort(),
    );
    expect(paths(() => parseAttachRequest("x".repeat(65), { fromOffset: -1 })).sort()).toEqual([
      "options.fromOffset",
      "processId",
    ]);
    expect(parseAttachRequest("p-1", undefined)).toEqual({ processId: "p-1", fromOffset: 0 });
  });

  it("read a signal by name or number; SIGKILL and none kill the whole tree", () => {
    const known = { SIGTERM: 15, SIGINT: 2 };
    expect([
      parseSignal(undefined, known),
      parseSignal("SIGKILL", known),
      parseSignal(9, known),
    ]).toEqual(["tree", "tree", "tree"]);
    expect([parseSignal("SIGTERM", known), parseSignal(2, known)]).toEqual([15, 2]);
    for (const bad of ["SIGNOPE", 0, 65, 1.5, "15", null])
      expect(paths(() => parseSignal(bad, known))).toEqual(["signal"]);
  });
});

describe("a session handle", () => {
  const calls: unknown[][] = [];
  const record =
    (name: string) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
      return name;
    };
  const provider = {
    id: "fake",
    exec: record("exec"),
    getSession: record("getSession"),
    stopSession: record("stopSession"),
    destroySession: record("destroySession"),
    files: { write: record("files.write"), read: record("files.read") },
  } as unknown as IsolationProvider;

  it("passes its session id to every call and destroys the session when disposed", async () => {
    const handle = bindSession(provider, "cadre-1");
    await handle.exec(["echo"], { timeoutMs: 5 });
    await handle.files.write("/tmp/x", "data");
    await handle.info();
    await handle[Symbol.asyncDispose]();
    expect(calls).toEqual([
      ["exec", "cadre-1", ["echo"], { timeoutMs: 5 }],
      ["files.write", "cadre-1", "/tmp/x", "data"],
      ["getSession", "cadre-1"],
      ["destroySession", "cadre-1"],
    ]);
  });

  it("refuses what the provider does not have with CAPABILITY_MISMATCH", async () => {
    const handle = bindSession(provider, "cadre-1");
    await expect(handle.processes.spawn(["true"])).rejects.toBeInstanceOf(CapabilityMismatchError);
    await expect(handle.files.download("/")).rejects.toBeInstanceOf(CapabilityMismatchError);
  });
});
