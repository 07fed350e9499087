import { describe, expect, it } from "vitest";
import type { FilesContenderResult, FilesResult } from "../src/bench/files-phase.js";
import type { Summary } from "../src/bench/stats.js";
import {
  agentExecTargets,
  checkTargets,
  coldFirstCommandBound,
  forkSpeedTargets,
  type MeasuredForTargets,
  tailRatio,
  userKernelTargets,
} from "../src/bench/target-checks.js";

const summary = (p50: number, p99 = p50): Summary => ({
  n: 100,
  p50,
  p95: p99,
  p99,
  mean: p50,
  min: p50,
  max: p99,
});

const measured = (over: Partial<MeasuredForTargets> = {}): MeasuredForTargets => ({
  oursExec: summary(1.5, 4),
  apiExec: summary(45),
  oursFirstCommand: summary(180),
  apiStart: summary(170),
  parallelErrors: 0,
  concurrentErrors: 0,
  poolFirstCommand: summary(6),
  idleMemoryOverBaselineBytes: 200 * 1024,
  files: null,
  ...over,
});

const both = (inMs: number, outMs: number) => ({ in: summary(inMs), out: summary(outMs) });
const contender = (
  kind: FilesContenderResult["kind"],
  ms: Record<"small" | "large" | "tree", [number, number]>,
  rss: FilesContenderResult["rssGrowthBytes"] = null,
): FilesContenderResult => ({
  kind,
  small: both(...ms.small),
  large: both(...ms.large),
  tree: both(...ms.tree),
  rssGrowthBytes: rss,
  errors: 0,
});

/** A files phase where ours took `ours` and the archive API `api` (p50 in and out). */
function filesRun(
  ours: Record<"small" | "large" | "tree", [number, number]>,
  api?: Record<"small" | "large" | "tree", [number, number]>,
  rss = { in: 20 * 2 ** 20, out: 30 * 2 ** 20 },
): FilesResult {
  const contenders: Record<string, FilesContenderResult> = { cadre: contender("ours", ours, rss) };
  if (api) contenders["archive API"] = contender("api", api, { in: 0, out: 0 });
  const ratio = (w: "small" | "large" | "tree", d: 0 | 1) =>
    api ? Math.round((ours[w][d] / api[w][d]) * 1000) / 1000 : null;
  return {
    sizes: { smallBytes: 2 ** 20, largeBytes: 100 * 2 ** 20, treeFiles: 10_000, treeBytes: 1 },
    rounds: { small: 30, large: 3, tree: 3 },
    note: null,
    contenders,
    ratios: {
      smallInVsApi: ratio("small", 0),
      smallOutVsApi: ratio("small", 1),
      largeInVsApi: ratio("large", 0),
      largeOutVsApi: ratio("large", 1),
      treeInVsApi: ratio("tree", 0),
      treeOutVsApi: ratio("tree", 1),
      smallInVsCli: null,
      smallOutVsCli: null,
      largeInVsCli: null,
      largeOutVsCli: null,
      treeInVsCli: null,
      treeOutVsCli: null,
    },
  };
}

describe("bench targets", () => {
  it("picks the engine's targets by the isolation level its provider reports", () => {
    expect(agentExecTargets("container")).toBe(forkSpeedTargets);
    expect(agentExecTargets("vm")).toBe(forkSpeedTargets);
    expect(agentExecTargets("user-kernel")).toBe(userKernelTargets);
    expect(forkSpeedTargets).toMatchObject({
      execSpeedupVsApi: 10,
      execP50Ms: 3,
      execTailRatio: 4,
      coldFirstCommand: { factor: 1.1, plusMs: 3 },
    });
    // gVisor: five times faster than its bare API, and no absolute p50.
    expect(userKernelTargets.execSpeedupVsApi).toBe(5);
    expect(userKernelTargets.execP50Ms).toBeUndefined();
  });

  it("meets every target when the numbers are within them", () => {
    const t = checkTargets(measured(), forkSpeedTargets);
    expect(t.execP50Ms).toEqual({ target: 3, comparison: "atMost", value: 1.5, met: true });
    expect(t.execSpeedupVsApi).toEqual({
      target: 10,
      comparison: "atLeast",
      value: 30,
      met: true,
    });
    expect(t.execTailRatio).toEqual({
      target: 4,
      comparison: "atMost",
      value: 2.667,
      met: true,
    });
    // 1.1 × 170 + 3 = 190 ms.
    expect(t.coldFirstCommandMs).toEqual({
      target: 190,
      comparison: "atMost",
      value: 180,
      met: true,
    });
    expect(t.poolFirstCommandP50Ms.met).toBe(true);
    expect(t.parallelErrors.met).toBe(true);
    expect(t.concurrentErrors.met).toBe(true);
    expect(t.idleMemoryOverBaselineBytes).toEqual({
      target: 2 ** 20,
      comparison: "atMost",
      value: 200 * 1024,
      met: true,
    });
  });

  it("misses each target past its bound, and holds at the bound itself", () => {
    const t = checkTargets(
      measured({
        oursExec: summary(5, 25),
        apiExec: summary(45),
        oursFirstCommand: summary(190.01),
        poolFirstCommand: summary(10.5),
        parallelErrors: 1,
        concurrentErrors: 2,
        idleMemoryOverBaselineBytes: 2 ** 20 + 1,
      }),
      forkSpeedTargets,
    );
    expect(t.execP50Ms.met).toBe(false);
    expect(t.execSpeedupVsApi).toMatchObject({ value: 9, met: false });
    expect(t.execTailRatio).toMatchObject({ value: 5, met: false });
    expect(t.coldFirstCommandMs).toMatchObject({ target: 190, met: false });
    expect(t.poolFirstCommandP50Ms.met).toBe(false);
    expect(t.parallelErrors.met).toBe(false);
    expect(t.concurrentErrors.met).toBe(false);
    expect(t.idleMemoryOverBaselineBytes.met).toBe(false);

    const edge = checkTargets(
      measured({
        oursExec: summary(3, 12),
        apiExec: summary(30),
        oursFirstCommand: summary(190),
        poolFirstCommand: summary(10),
        idleMemoryOverBaselineBytes: 2 ** 20,
      }),
      forkSpeedTargets,
    );
    for (const key of [
      "execP50Ms",
      "execSpeedupVsApi",
      "execTailRatio",
      "coldFirstCommandMs",
      "poolFirstCommandP50Ms",
      "idleMemoryOverBaselineBytes",
    ] as const) {
      expect({ key, met: edge[key].met }).toEqual({ key, met: true });
    }
  });

  it("has no absolute exec target under gVisor, only the ratio", () => {
    const t = checkTargets(
      measured({ oursExec: summary(12, 30), apiExec: summary(65) }),
      userKernelTargets,
    );
    expect(t.execP50Ms).toEqual({ target: null, comparison: "atMost", value: 12, met: null });
    expect(t.execSpeedupVsApi).toMatchObject({ target: 5, value: 5.417, met: true });
  });

  it("reports values without marks where an engine has no targets (the stub)", () => {
    const t = checkTargets(measured(), undefined);
    for (const key of ["execP50Ms", "execSpeedupVsApi", "execTailRatio", "coldFirstCommandMs"]) {
      const check = t[key as keyof typeof t];
      expect({ key, target: check.target, met: check.met }).toEqual({
        key,
        target: null,
        met: null,
      });
      expect(check.value).not.toBeNull();
    }
    // The shared targets hold for every engine.
    expect(t.parallelErrors.met).toBe(true);
    expect(t.poolFirstCommandP50Ms.met).toBe(true);
  });

  it("leaves a target unmarked when its measure is missing", () => {
    const t = checkTargets(
      measured({
        apiExec: null,
        apiStart: undefined,
        poolFirstCommand: undefined,
        idleMemoryOverBaselineBytes: null,
        parallelErrors: null,
      }),
      forkSpeedTargets,
    );
    expect(t.execSpeedupVsApi).toMatchObject({ value: null, met: null });
    expect(t.coldFirstCommandMs).toMatchObject({ target: null, value: 180, met: null });
    expect(t.poolFirstCommandP50Ms).toMatchObject({ value: null, met: null });
    expect(t.idleMemoryOverBaselineBytes.met).toBeNull();
    expect(t.parallelErrors.met).toBeNull();
  });

  it("checks the files targets against the archive API, and the caller's memory", () => {
    const met = checkTargets(
      measured({
        files: filesRun(
          { small: [3, 5], large: [600, 1200], tree: [900, 800] },
          { small: [20, 25], large: [500, 1000], tree: [1000, 700] },
        ),
      }),
      forkSpeedTargets,
    );
    expect(met.filesSmallInP50Ms).toEqual({ target: 5, comparison: "atMost", value: 3, met: true });
    expect(met.filesSmallOutP50Ms).toMatchObject({ value: 5, met: true });
    expect(met.filesLargeInVsApi).toEqual({
      target: 1.2,
      comparison: "atMost",
      value: 1.2,
      met: true,
    });
    expect(met.filesLargeOutVsApi).toMatchObject({ value: 1.2, met: true });
    expect(met.filesTreeInVsApi).toMatchObject({ value: 0.9, met: true });
    expect(met.filesTreeOutVsApi).toMatchObject({ value: 1.143, met: true });
    expect(met.filesRssGrowthBytes).toEqual({
      target: 64 * 2 ** 20,
      comparison: "atMost",
      value: 30 * 2 ** 20,
      met: true,
    });

    const missed = checkTargets(
      measured({
        files: filesRun(
          { small: [5.01, 7], large: [700, 1000], tree: [1300, 700] },
          { small: [20, 25], large: [500, 1000], tree: [1000, 700] },
          { in: 65 * 2 ** 20, out: 0 },
        ),
      }),
      userKernelTargets,
    );
    expect(missed.filesSmallInP50Ms.met).toBe(false);
    expect(missed.filesSmallOutP50Ms.met).toBe(false);
    expect(missed.filesLargeInVsApi).toMatchObject({ value: 1.4, met: false });
    expect(missed.filesLargeOutVsApi.met).toBe(true);
    expect(missed.filesTreeInVsApi).toMatchObject({ value: 1.3, met: false });
    expect(missed.filesRssGrowthBytes.met).toBe(false);
  });

  it("leaves the files ratios unmarked without an archive API (containerd), and all of files without the phase", () => {
    const noApi = checkTargets(
      measured({ files: filesRun({ small: [3, 4], large: [600, 700], tree: [900, 800] }) }),
      forkSpeedTargets,
    );
    expect(noApi.filesSmallInP50Ms.met).toBe(true);
    for (const key of [
      "filesLargeInVsApi",
      "filesLargeOutVsApi",
      "filesTreeInVsApi",
      "filesTreeOutVsApi",
    ] as const) {
      expect({ key, ...noApi[key] }).toMatchObject({ key, target: 1.2, value: null, met: null });
    }
    expect(noApi.filesRssGrowthBytes.met).toBe(true);
    const none = checkTargets(measured(), forkSpeedTargets);
    expect(none.filesSmallInP50Ms).toMatchObject({ value: null, met: null });
    expect(none.filesRssGrowthBytes).toMatchObject({ value: null, met: null });
    // The stub's run: values, no engine marks; its memory is still held to the bound.
    const stub = checkTargets(
      measured({ files: filesRun({ small: [9, 9], large: [600, 700], tree: [900, 800] }) }),
      undefined,
    );
    expect(stub.filesSmallInP50Ms).toMatchObject({ target: null, value: 9, met: null });
    expect(stub.filesRssGrowthBytes.met).toBe(true);
  });

  it("computes the cold bound and the tail ratio", () => {
    expect(coldFirstCommandBound(summary(291.26), { factor: 1.1, plusMs: 3 })).toBe(323.39);
    expect(coldFirstCommandBound(null, { factor: 1.1, plusMs: 3 })).toBeNull();
    expect(tailRatio(summary(2, 7))).toBe(3.5);
    expect(tailRatio(summary(0, 1))).toBeNull();
    expect(tailRatio(undefined)).toBeNull();
  });
});
