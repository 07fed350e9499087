import { afterEach, describe, expect, it, vi } from "vitest";
import { commandEnvironment, hostPath } from "../src/sandbox-paths.js";
import { TtlTimers } from "../src/ttl-timers.js";

describe("hostPath", () => {
  const root = "/state/cadre-abc/root";

  it("maps sandbox paths under the root", () => {
    expect(hostPath(root, "/")).toBe(`${root}/`);
    expect(hostPath(root, "/work/src")).toBe(`${root}/work/src`);
    expect(hostPath(root, "/state/cadre-abc")).toBe(`${root}/state/cadre-abc`);
  });

  it("keeps a path that already lies inside the root", () => {
    expect(hostPath(root, root)).toBe(root);
    expect(hostPath(root, `${root}/tmp`)).toBe(`${root}/tmp`);
    expect(hostPath(root, `${root}-other`)).toBe(`${root}/state/cadre-abc/root-other`);
  });
});

describe("commandEnvironment", () => {
  it("layers PATH and HOME, policy env, exec env, then the tags", () => {
    const env = commandEnvironment({
      root: "/r",
      sessionId: "cadre-1",
      execToken: "t",
      policyEnv: { A: "policy", HOME: "/custom", CADRE_EXEC_ID: "spoofed" },
      execEnv: { A: "exec" },
    });
    expect(env).toEqual({
      PATH: process.env.PATH,
      HOME: "/custom",
      A: "exec",
      CADRE_STUB_SESSION: "cadre-1",
      CADRE_EXEC_ID: "t",
    });
  });
});

describe("TtlTimers", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires at the deadline, also beyond setTimeout's 24.8-day limit", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const timers = new TtlTimers(async (id) => {
      expired.push(id);
    });
    const thirtyDays = 30 * 24 * 3600 * 1000;
    timers.schedule("long", Date.now() + thirtyDays);
    timers.schedule("short", Date.now() + 1000);

    await vi.advanceTimersByTimeAsync(1000);
    expect(expired).toEqual(["short"]);
    await vi.advanceTimersByTimeAsync(2_147_483_647);
    expect(expired).toEqual(["short"]);
    await vi.advanceTimersByTimeAsync(thirtyDays - 2_147_483_647 - 1000);
    expect(expired).toEqual(["short", "long"]);
  });

  it("cancels one timer or all of them", async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const timers = new TtlTimers(async (id) => {
      expired.push(id);
    });
    timers.schedule("a", Date.now() + 10);
    timers.schedule("b", Date.now() + 10);
    timers.schedule("c", Date.now() + 10);
    timers.cancel("a");
    timers.cancelAll();
    await vi.advanceTimersByTimeAsync(100);
    expect(expired).toEqual([]);
  });
});
