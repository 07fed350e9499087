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

it("bench --provider stub writes the JSON the issue asks for", async () => {
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
  expect(json.contenders.cadre.exec.n).toBe(10);
  expect(json.ratios).toEqual({
    execVsApi: expect.any(Number),
    execVsCli: null,
    startVsApi: expect.any(Number),
    startVsCli: null,
    apiExecVsCli: null,
  });
  expect(json.runId).toMatch(/^[0-9a-f-]{13}$/);
  expect(json.concurrent).toMatchObject({ sessions: 4, errors: 0 });
  expect(json.pool).toMatchObject({ size: 2, startP50Ms: expect.any(Number), misses: 0 });
  expect(json.memory.method).toEqual(expect.any(String));
  expect(json.leftoversRemoved).toBe(0);
  // The stub's baseline is a host process, not an engine: its ratios are not targets.
  expect(json.targets.execVsApi).toEqual({ target: 1.15, value: json.ratios.execVsApi, met: null });
  expect(json.targets.startVsApi.met).toBeNull();
  expect(json.targets.concurrentErrors.met).toBe(true);
  expect(Object.keys(json.targets).sort()).toEqual(
    ["concurrentErrors", "execVsApi", "execVsCli", "poolStartP50Ms", "startVsApi"].sort(),
  );
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
