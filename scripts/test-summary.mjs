// Adds up the vitest JSON reports of every package into one closing line: "N passed, N failed, N skipped".
import { readFileSync } from "node:fs";

const files = process.argv.slice(2).filter((f) => !f.includes("*"));
const totals = { passed: 0, failed: 0, skipped: 0 };
for (const file of files) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  if (report.numTotalTestSuites > 0 && report.success === false && report.numFailedTests === 0) {
    // A file that failed to load counts as a failure even though no test ran.
    totals.failed += 1;
    console.error(
      `test-summary: ${file} reports a failed run with no failed test (a file did not load)`,
    );
  }
}
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (totals.failed > 0 || totals.passed === 0) process.exit(1);
