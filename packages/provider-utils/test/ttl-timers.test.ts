import { afterEach, describe, expect, it, vi } from "vitest";
import { TtlTimers } from "../src/index.js";

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
