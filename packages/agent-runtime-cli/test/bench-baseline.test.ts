import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerProvider } from "@cadre/agent-runtime";
import type {
  BenchBaselineInput,
  BenchEngine,
  SandboxLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { benchRunLabel } from "../src/bench/run-labels.js";
import { forkSpeedTargets, userKernelTargets } from "../src/bench/target-checks.js";
import { benchCommand } from "../src/cli/bench-command.js";
import { UsageError } from "../src/cli/usage-error.js";
import { inMemoryProvider } from "./helpers/in-memory-provider.js";
import { captureStdout } from "./helpers/stdout.js";

// A provider defined in this file whose descriptor gives a bench baseline: `cadre-runtime bench`
// must find it through registerProvider() alone and measure the provider against it. The fake
// engine's bare sandboxes are names in a set, and it records what the bench gave it.
const id = "in-memory-bench";
const given: BenchBaselineInput[] = [];
const sandboxes = new Set<string>();
let closed = 0;

async function fakeEngine(input: BenchBaselineInput): Promise<BenchEngine> {
  given.push(input);
  let counter = 0;
  const bare: SandboxLifecycle = {
    start: async () => {
      const name = `${input.runId}-${++counter}`;
      sandboxes.add(name);
      return name;
    },
    destroy: async (name) => {
      sandboxes.delete(name);
    },
  };
  const runTrue = async (name: string) => {
    if (!sandboxes.has(name)) throw new Error(`no sandbox ${name}`);
  };
  return {
    label: "in-memory (fake engine)",
    baselines: [
      {
        name: "bare set",
        kind: "api",
        lifecycle: bare,
        firstExec: runTrue,
        exec: input.tools.execInOneSandbox(bare, runTrue),
      },
    ],
    targets: input.tools.engineTargets("container"),
    cleanup: async () => 0,
    close: async () => {
      closed++;
    },
  };
}

registerProvider(inMemoryProvider(id, { benchBaseline: fakeEngine }));
registerProvider(inMemoryProvider("in-memory-plain"));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cadre-bench-baseline-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

it("measures a registered provider against the baseline its descriptor gives", async () => {
  const config = join(dir, "cadre.config.json");
  const section = { acknowledgeNoIsolation: true, greeting: "from the config" };
  await writeFile(config, JSON.stringify({ isolation: { provider: id, [id]: section } }));
  const stdout = captureStdout();
  const args = ["--config", config, "--iterations", "2", "--concurrency", "2", "--json", "-"];
  const code = await benchCommand(args);
  expect(code).toBe(0);
  const json = JSON.parse(stdout.text());

  // What the bench gave the baseline: the provider's section, the run's labels (which the
  // policy of its own sessions carries too) and its tools.
  expect(given).toHaveLength(1);
  const input = given[0]!;
  expect(input.options).toEqual(section);
  expect(input.runId).toBe(json.runId);
  expect(input.labels).toEqual({ [benchRunLabel]: json.runId });
  expect(input.policy.labels).toEqual(input.labels);
  expect(input.tools.engineTargets("container")).toEqual(forkSpeedTargets);
  expect(input.tools.engineTargets("user-kernel")).toEqual(userKernelTargets);
  expect(input.tools.usageError("no TCP")).toBeInstanceOf(UsageError);

  // The provider itself, then the baseline's contenders, each measured in every round.
  expect(json.engine).toBe("in-memory (fake engine)");
  expect(Object.keys(json.contenders)).toEqual(["cadre", "bare set"]);
  expect(json.contenders["bare set"]).toMatchObject({ kind: "api", errors: 0 });
  expect(json.contenders["bare set"].start.n).toBe(2);
  expect(json.contenders["bare set"].exec.n).toBe(4);
  expect(json.contenders.cadre).toMatchObject({ kind: "ours", errors: 0 });
  expect(json.engineTargets).toEqual(forkSpeedTargets);
  expect(sandboxes.size).toBe(0);
  expect(closed).toBe(1);
});

it("refuses a provider whose descriptor has no baseline, naming those that have one", async () => {
  const asked = given.length;
  const refusal = await benchCommand(["--provider", "in-memory-plain"]).catch((e: unknown) => e);
  expect(refusal).toBeInstanceOf(UsageError);
  expect((refusal as UsageError).message).toBe(
    `bench has no baseline for the in-memory-plain provider; choose stub, docker, kata or ${id}`,
  );
  expect(given).toHaveLength(asked);
});
