import { conformanceTestNames as names } from "@cadre/agent-runtime-conformance";
import { policyFields } from "@cadre/agent-runtime-contract";
import { beforeAll, describe, expect, it } from "vitest";
import { type FixtureRun, runFixture } from "../src/run-fixture.js";

/**
 * Each fixture wraps the real stub and breaks one thing. The list is exactly the conformance
 * tests that must fail for it: every one of them fails, and no other test does.
 */
const fixtures: Array<{ file: string; breaks: string; expectedFailures: string[] }> = [
  {
    file: "healthy.conformance.ts",
    breaks: "nothing (the real stub)",
    expectedFailures: [],
  },
  {
    file: "broken-network-isolation-claimed.conformance.ts",
    breaks: "accepts networkIsolation: true and claims it is enforced, without enforcing it",
    expectedFailures: [names.enforcement.field("networkIsolation")],
  },
  {
    file: "broken-timeout-abandons.conformance.ts",
    breaks: "returns at the deadline without killing the command",
    expectedFailures: [names.exec.timeout, names.hostile.deadlineEscape],
  },
  {
    file: "broken-destroy-leaks.conformance.ts",
    breaks: "destroySession only stops: the session directory and record stay",
    expectedFailures: [
      names.lifecycle.destroyRunning,
      names.lifecycle.destroyStopped,
      names.lifecycle.destroyTwice,
      names.lifecycle.execAfterDestroy,
      names.lifecycle.listReportsState,
      names.concurrency.manySessions,
      names.cleanup.noLeftoversAfterDestroy,
      names.files.sessionErrors,
      names.processes.endsWithSession,
      names.usage.ended,
      names.leaks.final,
    ],
  },
  {
    file: "broken-files-not-atomic.conformance.ts",
    breaks: "a write removes the old file before the new one is whole",
    expectedFailures: [names.files.atomic, names.files.writeOptions],
  },
  {
    file: "broken-stderr-mixed.conformance.ts",
    breaks: "stderr is delivered as stdout",
    expectedFailures: [
      names.exec.stdoutStderrApart,
      names.exec.callbacksApart,
      // Both write a line to stderr and check that it arrives there.
      names.exec.parallel,
      names.concurrency.manySessions,
    ],
  },
  {
    file: "broken-stop-not-idempotent.conformance.ts",
    breaks: "a second stopSession throws SESSION_NOT_RUNNING",
    expectedFailures: [names.lifecycle.stopTwice],
  },
  {
    file: "broken-no-doctor.conformance.ts",
    breaks: "has no doctor()",
    expectedFailures: [names.report.doctor],
  },
  {
    file: "broken-streaming-claimed.conformance.ts",
    breaks: "reports streaming but delivers the callbacks only when the command has ended",
    expectedFailures: [
      names.exec.streaming,
      // It aborts on the first "started" chunk, which comes only after the command's timeout.
      names.exec.abort,
    ],
  },
  {
    file: "broken-destroys-by-name.conformance.ts",
    breaks: "destroySession removes any directory named like the id, session or not",
    expectedFailures: [names.hostile.foreignObjects],
  },
  {
    file: "broken-env-in-labels.conformance.ts",
    breaks: "copies env values into the session's labels",
    expectedFailures: [
      names.hostile.secretsNotListed,
      // An env at the contract's limits, copied into labels, is far past the labels' limits.
      names.edges.sizesAtLimits,
    ],
  },
  {
    file: "broken-hides-kill-report.conformance.ts",
    breaks: "a timed-out result does not say what the kill reached",
    expectedFailures: [names.hostile.deadlineEscape],
  },
  {
    file: "broken-docker-unhardened.conformance.ts",
    breaks: "Docker containers without CapDrop, no-new-privileges, seccomp and private IPC",
    expectedFailures: [names.hostile.boundary],
  },
  // Conformant but limited: each lacks one feature and says so; the suite checks the honest
  // refusal (or the complete result) instead of the probe, and passes them.
  {
    file: "limited-no-streaming.conformance.ts",
    breaks: "nothing: reports features.streaming false and delivers the callbacks at the end",
    expectedFailures: [],
  },
  {
    file: "limited-no-ttl.conformance.ts",
    breaks: "nothing: reports ttlMs not enforced (features.ttl false) and refuses it",
    expectedFailures: [],
  },
];

const runs = new Map<string, FixtureRun>();

beforeAll(async () => {
  // The fixtures are independent (one state directory each): run them at once.
  const results = await Promise.all(fixtures.map((f) => runFixture(f.file)));
  for (const [i, f] of fixtures.entries()) runs.set(f.file, results[i]!);
});

describe.each(fixtures)("$file: breaks $breaks", ({ file, expectedFailures }) => {
  const run = () => runs.get(file)!;
  const titles = (status: string) =>
    run()
      .tests.filter((t) => t.status === status)
      .map((t) => t.title)
      .sort();

  it("loads and runs without errors outside tests", () => {
    expect(run().fileErrors, run().output).toEqual([]);
    expect(run().tests.length, run().output).toBeGreaterThan(0);
  });

  it("fails exactly the tests meant to catch it", () => {
    const unexpected = run()
      .tests.filter((t) => t.status === "failed" && !expectedFailures.includes(t.title))
      .map((t) => `${t.title}: ${t.failureMessages.join(" ").slice(0, 500)}`);
    expect(titles("failed"), unexpected.join("\n")).toEqual([...expectedFailures].sort());
    expect(run().exitCode).toBe(expectedFailures.length === 0 ? 0 : 1);
  });

  it("runs the whole suite: at least 40 tests, each passes or fails, none is skipped", () => {
    const notRun = run()
      .tests.filter((t) => t.status !== "passed" && t.status !== "failed")
      .map((t) => `${t.title} (${t.status})`);
    expect(notRun).toEqual([]);
    expect(run().tests.length).toBeGreaterThanOrEqual(40);
  });
});

describe("the suite's test names", () => {
  it("are unique, so a fixture's expected failures name exactly one test each", () => {
    const all = runs.get("healthy.conformance.ts")!.tests.map((t) => t.title);
    expect(new Set(all).size).toBe(all.length);
  });

  it("every expected failure names a test the suite registers", () => {
    const all = new Set(runs.get("healthy.conformance.ts")!.tests.map((t) => t.title));
    for (const fixture of fixtures) {
      for (const title of fixture.expectedFailures) expect(all, title).toContain(title);
    }
  });
});

describe("the healthy stub", () => {
  const healthy = () => runs.get("healthy.conformance.ts")!;

  it("passes every test and skips none", () => {
    const counts = (status: string) => healthy().tests.filter((t) => t.status === status).length;
    expect(counts("skipped"), "skipped tests").toBe(0);
    expect(counts("passed")).toBe(healthy().tests.length);
  });

  it("runs every test the suite names, one per policy field", () => {
    const expected = Object.values(names).flatMap((area) =>
      Object.values(area).flatMap((title) =>
        typeof title === "string"
          ? [title]
          : policyFields.filter((f) => f !== "minimumIsolation").map((f) => title(f)),
      ),
    );
    expect(
      healthy()
        .tests.map((t) => t.title)
        .sort(),
    ).toEqual(expected.sort());
  });
});
