import { expect, it } from "vitest";
import { type SoakReport, targetNames } from "../src/index.js";
import { describeTarget } from "./support/available.js";
import { distFile, runNode } from "./support/child.js";

// The same runner as `npm run soak`, in a child process with --expose-gc so that its heap is
// measured after full collections, at small counts; each target chosen as a user would, by its
// provider and the variant this host runs it in.
for (const name of targetNames) {
  const sequential = name === "stub" ? 200 : name === "kata-stand-in" ? 20 : 40;
  await describeTarget(name, "soak", (target) => {
    const flags = [
      ...["--provider", target.providerId],
      ...(target.variant === undefined ? [] : ["--runtime", target.variant]),
    ];
    it(`${sequential} sessions in sequence and 10 at once leave nothing behind and raise no error`, async () => {
      const { code, stdout, stderr } = await runNode(
        [
          distFile("soak-cli.js"),
          ...flags,
          "--sessions",
          String(sequential),
          "--concurrency",
          "10",
          "--json",
        ],
        ["--expose-gc"],
      );
      const report = JSON.parse(stdout) as SoakReport;
      expect(report.target).toBe(name);
      expect(report.errorSamples, stderr).toEqual([]);
      expect(report).toMatchObject({ sessions: sequential + 10, errors: 0, leaked: 0 });
      expect(Object.values(report.leaks).every((n) => n === 0)).toBe(true);
      expect(report.process.heapMeasured).toBe(true);
      expect(code).toBe(0);
    });
  });
}
