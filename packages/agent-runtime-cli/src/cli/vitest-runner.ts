import type { TestCase, TestModule } from "vitest/node";
import { startVitest } from "vitest/node";

export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Errors outside any test: a file that failed to load, an unhandled rejection. */
  errors: number;
}

/**
 * Runs one test file with vitest's Node API, reporting each finished test on stderr (stdout
 * is kept for the command's own result), and counts the outcomes.
 */
export async function runSuiteFile(root: string, file: string): Promise<SuiteCounts> {
  const reporter = {
    onTestCaseResult(test: TestCase) {
      const result = test.result();
      const mark = result.state === "passed" ? "ok  " : result.state === "failed" ? "FAIL" : "skip";
      const note = result.state === "skipped" && result.note ? ` (${result.note})` : "";
      process.stderr.write(`  [${mark}] ${test.fullName}${note}\n`);
      if (result.state === "failed") {
        for (const error of result.errors) {
          process.stderr.write(
            `         ${(error.message ?? "").split("\n").join("\n         ")}\n`,
          );
        }
      }
    },
  };

  const previousExitCode = process.exitCode;
  const vitest = await startVitest(
    "test",
    [file],
    {
      config: false,
      root,
      watch: false,
      reporters: [reporter],
      include: ["**/*.js"],
      exclude: [],
      passWithNoTests: false,
    },
    undefined,
    { stdout: process.stderr, stderr: process.stderr },
  );
  try {
    return countOutcomes(vitest.state.getTestModules(), vitest.state.getUnhandledErrors().length);
  } finally {
    await vitest.close();
    // Vitest sets the exit code of its own CLI; this command decides its own.
    process.exitCode = previousExitCode;
  }
}

function countOutcomes(modules: TestModule[], unhandledErrors: number): SuiteCounts {
  const counts: SuiteCounts = { passed: 0, failed: 0, skipped: 0, errors: unhandledErrors };
  for (const module of modules) {
    counts.errors += module.errors().length;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") counts.passed++;
      else if (state === "failed") counts.failed++;
      else counts.skipped++;
    }
  }
  return counts;
}
