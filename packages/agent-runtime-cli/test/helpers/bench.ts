import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { runCli } from "./cli.js";

export interface BenchJson {
  runId: string;
  oursExecsPerRound: number;
  contenders: Record<
    string,
    { kind: string; errors: number; firstError?: string; exec?: { n: number } }
  >;
  ratios: {
    execVsApi: number | null;
    apiExecVsCli: number | null;
    execSpeedupVsApi: number | null;
  };
  parallel: { errors: number; rounds: number; firstErrors: string[] } | null;
  concurrent: { errors: number };
  targets: Record<string, { target: number | null; value: number | null; met: boolean | null }>;
  files: {
    contenders: Record<string, { kind: string; errors: number; firstError?: string }>;
    ratios: Record<string, number | null>;
  } | null;
  leftoversRemoved: number;
}

/**
 * Runs a short `cadre-runtime bench` (2 rounds, 2 at once, a pool of 1, small files) and checks what every
 * engine's run must show: each contender ran every round without an error (ours several times a
 * round in the exec phase), the ratios were computed, the parallel phase ran without an error,
 * and the run's own cleanup found nothing left behind. Times are never asserted.
 */
export async function runShortBench(dir: string, args: string[]): Promise<BenchJson> {
  const file = join(dir, `bench-${Date.now()}.json`);
  const result = await runCli([
    "bench",
    ...args,
    ...["--iterations", "2", "--concurrency", "2", "--pool", "1", "--json", file],
    ...["--file-size", "2m", "--tree-files", "20"],
  ]);
  expect(result.code, result.stderr).toBe(0);
  const json = JSON.parse(await readFile(file, "utf8")) as BenchJson;
  for (const [name, c] of Object.entries(json.contenders)) {
    expect({ name, errors: c.errors, firstError: c.firstError }).toEqual({
      name,
      errors: 0,
      firstError: undefined,
    });
    expect(c.exec?.n).toBe(4 * (c.kind === "ours" ? json.oursExecsPerRound : 1));
  }
  expect(json.ratios.execVsApi).toBeGreaterThan(0);
  expect(json.ratios.execSpeedupVsApi).toBeGreaterThan(0);
  expect(json.ratios.apiExecVsCli).toBeGreaterThan(0);
  expect(json.parallel).toMatchObject({ errors: 0, rounds: 2, firstErrors: [] });
  expect(json.targets.parallelErrors?.met).toBe(true);
  expect(json.concurrent.errors).toBe(0);
  // The files phase copied every workload both ways without an error, for every contender.
  for (const [name, c] of Object.entries(json.files?.contenders ?? {})) {
    expect({ name, errors: c.errors, firstError: c.firstError }).toEqual({
      name,
      errors: 0,
      firstError: undefined,
    });
  }
  expect(json.leftoversRemoved).toBe(0);
  return json;
}
