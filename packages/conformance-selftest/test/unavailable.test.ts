import { beforeAll, describe, expect, it } from "vitest";
import { type FixtureRun, runFixture } from "../src/run-fixture.js";

const { CI: _ci, ...withoutCi } = process.env;
let local: FixtureRun;
let ci: FixtureRun;

beforeAll(async () => {
  [local, ci] = await Promise.all([
    runFixture("unavailable.conformance.ts", withoutCi),
    runFixture("unavailable.conformance.ts", { ...withoutCi, CI: "true" }),
  ]);
});

describe("unavailableReason", () => {
  it("outside CI: the suite is skipped with the reason and nothing fails", () => {
    expect(local.exitCode, local.output).toBe(0);
    expect(local.tests.filter((t) => t.status === "failed")).toEqual([]);
    expect(local.tests.map((t) => t.title)).toEqual([
      "skipped: the Example Engine at /nonexistent.sock is not reachable: ENOENT",
    ]);
  });

  it("under CI=true: one failing test naming the reason", () => {
    expect(ci.exitCode).toBe(1);
    expect(ci.tests.map(({ path, title, status }) => ({ path, title, status }))).toEqual([
      {
        path: [],
        title: "the backend is available (required under CI=true) [MUST]",
        status: "failed",
      },
    ]);
    expect(ci.tests[0]?.failureMessages.join("\n")).toContain(
      "the Example Engine at /nonexistent.sock is not reachable: ENOENT",
    );
  });
});
