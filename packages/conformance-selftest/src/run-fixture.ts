import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const vitestBin = join(
  dirname(createRequire(import.meta.url).resolve("vitest/package.json")),
  "vitest.mjs",
);

export interface FixtureTest {
  /** The describe blocks below the suite's top level, e.g. ["exec"]. */
  path: string[];
  title: string;
  status: "passed" | "failed" | "skipped" | "pending" | "todo" | "disabled";
  failureMessages: string[];
}

export interface FixtureRun {
  tests: FixtureTest[];
  /** Errors outside tests (a file that did not load, a failing hook). */
  fileErrors: string[];
  exitCode: number | null;
  output: string;
}

interface JsonReport {
  testResults: Array<{
    message?: string;
    assertionResults: Array<{
      ancestorTitles: string[];
      title: string;
      status: FixtureTest["status"];
      failureMessages?: string[];
    }>;
  }>;
}

/**
 * Runs one fixture file of fixtures/ in a child vitest with the JSON reporter and returns what
 * happened to every test.
 */
export async function runFixture(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FixtureRun> {
  const outDir = await mkdtemp(join(tmpdir(), "cadre-selftest-report-"));
  const outputFile = join(outDir, "report.json");
  try {
    const child = spawn(
      process.execPath,
      [
        vitestBin,
        "run",
        "--config",
        "vitest.fixtures.config.ts",
        `fixtures/${file}`,
        "--reporter=json",
        `--outputFile=${outputFile}`,
      ],
      { cwd: packageDir, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString("utf8");
    });
    const [exitCode] = (await once(child, "exit")) as [number | null];
    const report = JSON.parse(await readFile(outputFile, "utf8")) as JsonReport;
    return {
      exitCode,
      output,
      fileErrors: report.testResults.flatMap((r) => (r.message ? [r.message] : [])),
      tests: report.testResults.flatMap((r) =>
        r.assertionResults.map((a) => ({
          path: a.ancestorTitles.slice(1),
          title: a.title,
          status: a.status,
          failureMessages: a.failureMessages ?? [],
        })),
      ),
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
