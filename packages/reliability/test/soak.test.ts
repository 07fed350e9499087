import { expect, it } from "vitest";
import { type SoakReport, type TargetName, targetNames } from "../src/index.js";
import { describeTarget } from "./support/available.js";
import { distFile, runNode } from "./support/child.js";

// The same runner as `npm run soak`, in a child process with --expose-gc so that its heap is
// measured after full collections, at small counts.
const flags: Record<TargetName, string[]> = {
  stub: ["--provider", "stub"],
  "docker-runc": ["--provider", "docker", "--runtime", "runc"],
  "docker-runsc": ["--provider", "docker", "--runtime", "runsc"],
  "kata-stand-in": ["--provider", "kata", "--runtime", "kata"],
  "kata-runc": ["--provider", "kata", "--runtime", "runc"],
  "kata-runsc": ["--provider", "kata", "--runtime", "runsc"],
};

for (const name of targetNames) {
  const sequential = name === "stub" ? 200 : name === "kata-stand-in" ? 20 : 40;
  await describeTarget(name, "soak", () => {
    it(`${sequential} sessions in sequence and 10 at once leave nothing behind and raise no error`, async () => {
      const { code, stdout, stderr } = await runNode(
        [
          distFile("soak-cli.js"),
          ...flags[name],
          "--sessions",
          String(sequential),
          "--concurrency",
          "10",
          "--json",
        ],
        ["--expose-gc"],
      );
      const report = JSON.parse(stdout) as SoakReport;
      expect(report.errorSamples, stderr).toEqual([]);
      expect(report).toMatchObject({ sessions: sequential + 10, errors: 0, leaked: 0 });
      expect(Object.values(report.leaks).every((n) => n === 0)).toBe(true);
      expect(report.process.heapMeasured).toBe(true);
      expect(code).toBe(0);
    });
  });
}
