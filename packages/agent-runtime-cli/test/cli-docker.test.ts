import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runShortBench } from "./helpers/bench.js";
import { assertBuilt, expectInterruptDestroysSession, runCli } from "./helpers/cli.js";
import { containersWithLabel, dockerUnavailableReason, testImage } from "./helpers/docker.js";
import { describeLivingSession } from "./helpers/living-session.js";

const unavailable = await dockerUnavailableReason();
const inCi = process.env.CI === "true";
const labelKey = "cadre-cli-test";
const runLabel = randomUUID();

// Outside CI a laptop without Docker skips these tests with the reason; under CI=true the
// reachability test below fails instead, so a missing engine never passes as green.
describe("cadre-runtime with Docker", () => {
  it("finds the Docker Engine (required under CI=true)", (context) => {
    if (unavailable && !inCi) context.skip(unavailable);
    expect(unavailable).toBeUndefined();
  });

  describe.skipIf(unavailable !== undefined)("run against docker (runc)", () => {
    beforeAll(() => assertBuilt());
    afterAll(async () => {
      // Nothing of this run may be left, whatever happened in the tests.
      expect(await containersWithLabel(labelKey, runLabel)).toEqual([]);
    });

    const dockerArgs = (label: string) => [
      "run",
      "--provider",
      "docker",
      "--runtime",
      "runc",
      "--image",
      testImage,
      "--label",
      `${labelKey}=${runLabel}`,
      "--label",
      `cadre-cli-case=${label}`,
    ];

    it("streams output, exits with the command's code and removes the container", async () => {
      const result = await runCli([
        ...dockerArgs("exit"),
        "--memory",
        "64m",
        "--pids",
        "64",
        "--network",
        "none",
        "--read-only",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
      ]);
      expect(result.stderr).toMatch(/provider docker \(runc\), isolation "container"/);
      expect(result.code).toBe(5);
      expect(result.stdout).toBe("out\n");
      expect(result.stderr).toContain("err\n");
      expect(await containersWithLabel("cadre-cli-case", "exit")).toEqual([]);
    });

    it("runs under gVisor with --runtime runsc", async () => {
      const args = dockerArgs("runsc").map((a) => (a === "runc" ? "runsc" : a));
      const result = await runCli([...args, "--", "sh", "-c", "echo gvisor; exit 3"]);
      expect(result.stderr).toMatch(/provider docker \(runsc\), isolation "user-kernel"/);
      expect(result.code).toBe(3);
      expect(result.stdout).toBe("gvisor\n");
      expect(await containersWithLabel("cadre-cli-case", "runsc")).toEqual([]);
    });

    it("removes the container when interrupted with SIGINT mid-command (exit 130)", async () => {
      await expectInterruptDestroysSession(dockerArgs("sigint"), () =>
        containersWithLabel("cadre-cli-case", "sigint"),
      );
    });

    it("bench measures cadre against dockerode and the docker CLI, and leaves nothing", async () => {
      const dir = await mkdtemp(join(tmpdir(), "cadre-cli-docker-bench-"));
      try {
        const json = await runShortBench(dir, ["--provider", "docker", "--runtime", "runc"]);
        expect(Object.keys(json.contenders)).toEqual(["cadre", "dockerode", "docker CLI"]);
        expect(Object.keys(json.files?.contenders ?? {})).toEqual([
          "cadre",
          "dockerode archive",
          "docker cp",
        ]);
        expect(json.files?.ratios.largeInVsApi).toBeGreaterThan(0);
        expect(json.files?.ratios.treeOutVsCli).toBeGreaterThan(0);
        expect(await containersWithLabel("cadre.bench/run", json.runId)).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe.skipIf(unavailable !== undefined)("living sessions on docker (runc)", () => {
    describeLivingSession({
      name: "docker (runc)",
      startArgs: () => [
        ...["--provider", "docker", "--runtime", "runc", "--image", testImage],
        ...["--label", `${labelKey}=${runLabel}`],
      ],
      listArgs: () => ["--provider", "docker"],
      label: [labelKey, runLabel],
      scratch: "/tmp",
      scratchInCommands: "/tmp",
    });
  });
});
