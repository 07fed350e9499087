import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";

let dir: string;
beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), "cadre-bench-test-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const summary = expect.objectContaining({
  n: expect.any(Number),
  p50: expect.any(Number),
  p95: expect.any(Number),
  p99: expect.any(Number),
});

it("bench --provider stub writes the JSON the issues ask for", async () => {
  const file = join(dir, "stub.json");
  const stateDir = join(dir, "state");
  const result = await runCli(
    [
      "bench",
      "--provider",
      "stub",
      "--iterations",
      "5",
      "--concurrency",
      "4",
      "--pool",
      "2",
      "--file-size",
      "3m",
      "--tree-files",
      "50",
      "--json",
      file,
    ],
    { XDG_STATE_HOME: stateDir },
  );
  expect(result.stderr).toContain("bench run");
  expect(result.code, result.stderr).toBe(0);
  const json = JSON.parse(await readFile(file, "utf8"));
  expect(json.engine).toBe("stub");
  expect(json.contenders.cadre).toMatchObject({
    kind: "ours",
    errors: 0,
    start: summary,
    exec: summary,
  });
  expect(json.contenders["host spawn"]).toMatchObject({ kind: "api", errors: 0, exec: summary });
  // Ours runs several times in each round of the exec phase, every baseline once.
  expect(json.contenders.cadre.exec.n).toBe(10 * json.oursExecsPerRound);
  expect(json.contenders["host spawn"].exec.n).toBe(10);
  // Time to first command, cold: start then the first exec, in every lifecycle round.
  expect(json.contenders.cadre).toMatchObject({ firstExec: summary, firstCommand: summary });
  expect(json.contenders.cadre.firstCommand.n).toBe(5);
  expect(json.ratios).toEqual({
    execVsApi: expect.any(Number),
    execVsCli: null,
    startVsApi: expect.any(Number),
    startVsCli: null,
    apiExecVsCli: null,
    execSpeedupVsApi: expect.any(Number),
    execTail: expect.any(Number),
    firstCommandVsApiStart: expect.any(Number),
  });
  expect(json.runId).toMatch(/^[0-9a-f-]{13}$/);
  expect(json.parallel).toMatchObject({
    execs: 20,
    rounds: 5,
    errors: 0,
    wall: summary,
    exec: summary,
    sequentialWall: summary,
    sequentialErrors: 0,
  });
  expect(json.parallel.exec.n).toBe(100);
  expect(json.concurrent).toMatchObject({ sessions: 4, errors: 0 });
  expect(json.pool).toMatchObject({
    size: 2,
    startP50Ms: expect.any(Number),
    firstCommand: summary,
    misses: 0,
  });
  // The stub has no cgroup to read, so no idle memory and no baseline for it.
  expect(json.memory).toMatchObject({ bytesPerSession: null, baseline: null });
  expect(json.leftoversRemoved).toBe(0);
  // The stub's baseline is a host process, not an engine: the engine targets do not
  // apply; the values are still there.
  expect(json.engineTargets).toBeNull();
  expect(json.targets.execSpeedupVsApi).toEqual({
    target: null,
    comparison: "atLeast",
    value: json.ratios.execSpeedupVsApi,
    met: null,
  });
  expect(json.targets.execP50Ms.value).toBe(json.contenders.cadre.exec.p50);
  expect(json.targets.coldFirstCommandMs.met).toBeNull();
  expect(json.targets.idleMemoryOverBaselineBytes.met).toBeNull();
  // The shared ones do.
  expect(json.targets.parallelErrors).toMatchObject({ target: 0, value: 0, met: true });
  expect(json.targets.concurrentErrors.met).toBe(true);
  expect(json.targets.poolFirstCommandP50Ms).toMatchObject({
    target: 10,
    value: json.pool.firstCommand.p50,
  });
  expect(Object.keys(json.targets).sort()).toEqual(
    [
      "coldFirstCommandMs",
      "concurrentErrors",
      "execP50Ms",
      "execSpeedupVsApi",
      "execTailRatio",
      "idleMemoryOverBaselineBytes",
      "parallelErrors",
      "poolFirstCommandP50Ms",
      "filesSmallInP50Ms",
      "filesSmallOutP50Ms",
      "filesLargeInVsApi",
      "filesLargeOutVsApi",
      "filesTreeInVsApi",
      "filesTreeOutVsApi",
      "filesRssGrowthBytes",
    ].sort(),
  );
  // The files phase: ours alone (a stub session's files are host files), every round of each
  // workload in and out, the caller's memory during the large file held to its bound.
  expect(json.files).toMatchObject({
    sizes: { smallBytes: 2 ** 20, largeBytes: 3 * 2 ** 20, treeFiles: 50 },
    rounds: { small: 5, large: 1, tree: 1 },
    note: expect.stringContaining("host files"),
  });
  expect(Object.keys(json.files.contenders)).toEqual(["cadre"]);
  expect(json.files.contenders.cadre).toMatchObject({ kind: "ours", errors: 0 });
  for (const workload of ["small", "large", "tree"]) {
    expect(json.files.contenders.cadre[workload]).toEqual({ in: summary, out: summary });
  }
  expect(json.files.contenders.cadre.small.in.n).toBe(5);
  expect(json.targets.filesSmallInP50Ms).toMatchObject({ target: null, met: null });
  expect(json.targets.filesLargeInVsApi).toMatchObject({ value: null, met: null });
  expect(json.targets.filesRssGrowthBytes).toMatchObject({ target: 64 * 2 ** 20 });
  expect(json.targets.filesRssGrowthBytes.value).toBeGreaterThanOrEqual(0);
  // Everything the run made is gone from the stub's state directory.
  const list = await runCli(["sessions", "list", "--provider", "stub", "--json"], {
    XDG_STATE_HOME: stateDir,
  });
  expect(JSON.parse(list.stdout)).toEqual([]);
});

it("bench without a provider is a usage error", async () => {
  const result = await runCli(["bench"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("--provider or --config is required");
});
