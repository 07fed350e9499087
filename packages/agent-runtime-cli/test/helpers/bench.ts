import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { runCli } from "./cli.js";

export interface BenchJson {
  runId: string;
  contenders: Record<string, { errors: number; firstError?: string; exec?: { n: number } }>;
  ratios: { execVsApi: number | null; apiExecVsCli: number | null };
  concurrent: { errors: number };
  leftoversRemoved: number;
}

/**
 * Runs a short `cadre-runtime bench` (2 rounds, 2 at once, a pool of 1) and checks what every
 * engine's run must show: each contender ran every round without an error, the ratios were
 * computed, and the run's own cleanup found nothing left behind.
 */
export async function runShortBench(dir: string, args: string[]): Promise<BenchJson> {
  const file = join(dir, `bench-${Date.now()}.json`);
  const result = await runCli([
    "bench",
    ...args,
    ...["--iterations", "2", "--concurrency", "2", "--pool", "1", "--json", file],
  ]);
  expect(result.code, result.stderr).toBe(0);
  const json = JSON.parse(await readFile(file, "utf8")) as BenchJson;
  for (const [name, c] of Object.entries(json.contenders)) {
    expect({ name, errors: c.errors, firstError: c.firstError }).toEqual({
      name,
      errors: 0,
      firstError: undefined,
    });
    expect(c.exec?.n).toBe(4);
  }
  expect(json.ratios.execVsApi).toBeGreaterThan(0);
  expect(json.ratios.apiExecVsCli).toBeGreaterThan(0);
  expect(json.concurrent.errors).toBe(0);
  expect(json.leftoversRemoved).toBe(0);
  return json;
}
