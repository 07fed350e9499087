import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { censusTotal, createTarget, type TargetEndpoints } from "../src/index.js";
import { describeTarget } from "./support/available.js";
import { distFile, jsonLines, runNode } from "./support/child.js";

const stubStateDir = await mkdtemp(join(tmpdir(), "cadre-rel-owner-"));
afterAll(() => rm(stubStateDir, { recursive: true, force: true }));

for (const name of ["stub", "docker-runc", "docker-runsc", "kata-runc", "kata-runsc"] as const) {
  await describeTarget(name, "owner killed with SIGKILL in the middle of an exec", () => {
    const endpoints: TargetEndpoints = name === "stub" ? { stubStateDir } : {};
    const target = createTarget(name, endpoints);
    const runLabel = { "cadre.reliability/owner-run": `${process.pid}-${name}` };

    it("leaves only what reap() from a new process removes completely", async () => {
      const owner = spawn(
        process.execPath,
        [
          distFile("owner-process.js"),
          "own",
          name,
          JSON.stringify(endpoints),
          JSON.stringify({ labels: runLabel }),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const lines = jsonLines(owner);
      const { id } = (await lines.next("id")) as { id: string };
      await lines.next("execRunning");
      const exited = once(owner, "exit");
      owner.kill("SIGKILL");
      await exited;

      // The stub's session is its directory and its agent, which outlives the owner as a
      // container does.
      expect(censusTotal(await target.census(runLabel))).toBeGreaterThan(name === "stub" ? 1 : 0);
      const reaper = await runNode([
        distFile("owner-process.js"),
        "reap",
        name,
        JSON.stringify(endpoints),
      ]);
      expect(reaper.code, reaper.stderr).toBe(0);
      const { reaped } = JSON.parse(reaper.stdout) as { reaped: string[] };
      expect(reaped).toContain(id);
      expect(await target.census(runLabel)).toSatisfy((c: Record<string, number>) =>
        Object.values(c).every((n) => n === 0),
      );
      // The reaped session's end record goes too.
      const cleaner = target.createProvider();
      await cleaner.reap({ labels: runLabel, endedOlderThanMs: 0 });
      await cleaner.close?.();
    });
  });
}
