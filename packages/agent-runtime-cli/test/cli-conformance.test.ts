import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";

let home: string;
beforeAll(async () => {
  assertBuilt();
  home = await mkdtemp(join(tmpdir(), "cadre-cli-conformance-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("cadre-runtime conformance", () => {
  it("runs the whole suite against the stub and reports passed > 0, failed 0, skipped 0", async () => {
    const result = await runCli(["conformance", "--provider", "stub", "--json"], {
      XDG_STATE_HOME: home,
    });
    const counts = JSON.parse(result.stdout) as Record<string, number>;
    expect(counts).toMatchObject({ failed: 0, errors: 0 });
    expect(counts.passed).toBeGreaterThan(0);
    // Every test runs for every provider: the suite has no conditional skips.
    expect(counts.skipped).toBe(0);
    expect(result.code).toBe(0);
    // Progress (one line per test) goes to stderr, never into the JSON.
    expect(result.stderr).toMatch(/\[ok {2}\] conformance: stub/);
  }, 300_000);
});
