import { randomUUID } from "node:crypto";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runShortBench } from "./helpers/bench.js";
import { assertBuilt, expectInterruptDestroysSession, runCli } from "./helpers/cli.js";

// The private containerd of scripts/services.sh, with runc's shim installed under Kata's name:
// real Kata cannot run on these machines (no vhost-vsock), so this drives the same containerd
// path through the provider's test-only stand-in option.
const address = process.env.CADRE_CONTAINERD_ADDRESS ?? "/run/cadre-test/containerd.sock";
const image = process.env.CADRE_TEST_IMAGE
  ? `docker.io/${process.env.CADRE_TEST_IMAGE}`
  : "docker.io/cadre-test/busybox:1";
const unavailable = await access(address).then(
  () => undefined,
  () => `containerd is not reachable at ${address} (run scripts/services.sh up as root)`,
);
const inCi = process.env.CI === "true";
const runLabel = randomUUID();

let dir: string;
let configFile: string;

describe("cadre-runtime with containerd (kata provider, stand-in shim)", () => {
  it("finds containerd (required under CI=true)", (context) => {
    if (unavailable && !inCi) context.skip(unavailable);
    expect(unavailable).toBeUndefined();
  });

  describe.skipIf(unavailable !== undefined)("run", () => {
    beforeAll(async () => {
      assertBuilt();
      dir = await mkdtemp(join(tmpdir(), "cadre-cli-kata-"));
      configFile = join(dir, "cadre.config.json");
      const isolation = { provider: "kata", kata: { address, image, unsafeUseStandInShim: true } };
      await writeFile(configFile, JSON.stringify({ isolation }));
    });
    afterAll(async () => {
      expect(await sessionsOfThisRun()).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    });

    const runArgs = () => ["--config", configFile, "--label", `cadre-cli-test=${runLabel}`];

    async function sessionsOfThisRun(): Promise<string[]> {
      const list = await runCli(["sessions", "list", "--config", configFile, "--json"]);
      expect(list.code).toBe(0);
      const sessions = JSON.parse(list.stdout) as Array<{
        id: string;
        labels: Record<string, string>;
      }>;
      return sessions.filter((s) => s.labels["cadre-cli-test"] === runLabel).map((s) => s.id);
    }

    it("runs a command through containerd and says that the shim gives no VM", async () => {
      const result = await runCli([
        "run",
        ...runArgs(),
        "--",
        "sh",
        "-c",
        "echo from-containerd; exit 4",
      ]);
      expect(result.code).toBe(4);
      expect(result.stdout).toBe("from-containerd\n");
      expect(result.stderr).toMatch(/provider kata .*stand-in.*isolation "container"/);
      expect(await sessionsOfThisRun()).toEqual([]);
    });

    it("destroys the session on SIGINT mid-command", async () => {
      await expectInterruptDestroysSession(["run", ...runArgs()], sessionsOfThisRun);
    });

    it("bench measures cadre against containerd's gRPC API and ctr, and leaves nothing", async () => {
      const json = await runShortBench(dir, ["--config", configFile]);
      expect(Object.keys(json.contenders)).toEqual(["cadre", "containerd gRPC", "ctr CLI"]);
      const { findLabelledObjects } = await import("@cadre/agent-runtime-provider-kata");
      const left = await findLabelledObjects(
        { address, namespace: "cadre" },
        { "cadre.bench/run": json.runId },
      );
      expect(left).toEqual([]);
    });
  });
});
