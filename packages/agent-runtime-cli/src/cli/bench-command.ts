import { writeFile } from "node:fs/promises";
import { createProvider, loadProviderDescriptor } from "@cadre/agent-runtime";
import { type BenchEngine, offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import { benchTools } from "../bench/bench-tools.js";
import { formatBenchResult } from "../bench/format.js";
import { baselineOf, providersWithBaseline } from "../bench/provider-baseline.js";
import { type BenchResult, runBench } from "../bench/run-bench.js";
import { benchRunLabel, newBenchRunId } from "../bench/run-labels.js";
import { progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { configFromFlags, providerFlagSpec, sectionOf } from "./provider-choice.js";
import { knownProviders, optionHelp, runtimeOptionHelp } from "./provider-help.js";
import { parsePositiveNumber, parseSize } from "./units.js";
import { UsageError } from "./usage-error.js";

export const benchHelp = async () => `Usage: cadre-runtime bench --provider P [options]

Measures, in one run and interleaved, startSession, the first exec and destroySession, and exec
of \`true\`, for the provider and for the baselines its package gives on the same engine (the
engine's bare API and its CLI, or what the provider wraps); then 20 execs at once in one session
against 20 one after another, hand-out and first exec from a SessionPool, N concurrent sessions
each running one exec, the host memory of idle sessions against the bare API's idle sandboxes,
and "cadre-runtime cp" in and out (a 1 MiB file, a large file, a tree of small files) against
the engine's own copy API and CLI, with this process's memory during the large file. Every sandbox it makes carries the label ${benchRunLabel}=<run id> and is removed at
the end. Providers with a baseline here: ${(await providersWithBaseline()).join(", ") || "none"}.

Options:
${optionHelp("-p, --provider P", 25, `${knownProviders()} (required unless --config names one)`)}
  -c, --config F         cadre.config.json whose "isolation" section configures the provider
${await runtimeOptionHelp(25)}
      --iterations N     measured rounds per operation (default 20; exec runs 2N rounds)
      --concurrency C    sessions started at once in the concurrency phase (default 50)
      --pool K           also measure hand-out and first exec from a SessionPool of K
      --file-size SIZE   the files phase's large file (default 100m)
      --tree-files N     the files phase's tree of small files (default 10000)
      --json FILE        write the results as JSON to FILE ("-" for stdout)
  -h, --help             show this help

Exit status: 0 when the benchmark ran (targets met or not); 1 when it could not run.`;

const flagSpec = {
  ...providerFlagSpec,
  iterations: { type: "string" },
  concurrency: { type: "string" },
  pool: { type: "string" },
  "file-size": { type: "string" },
  "tree-files": { type: "string" },
  json: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "bench";

export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, flagSpec, cmd);
  if (values.help) {
    process.stdout.write(`${await benchHelp()}\n`);
    return 0;
  }
  const config = await configFromFlags(values, cmd);
  if (!config) throw new UsageError("--provider or --config is required", cmd);
  const count = (flag: "iterations" | "concurrency" | "pool" | "tree-files", fallback?: number) => {
    const text = values[flag];
    return text === undefined ? fallback : parsePositiveNumber(text, `--${flag}`, cmd, true);
  };
  const iterations = count("iterations", 20)!;
  const concurrency = count("concurrency", 50)!;
  const poolSize = count("pool");
  const files = {
    largeBytes:
      values["file-size"] === undefined
        ? 100 * 2 ** 20
        : parseSize(values["file-size"], "--file-size", cmd),
    treeFiles: count("tree-files", 10_000)!,
  };

  // The pool is measured separately: the provider itself is always benchmarked bare.
  const { pool: _pool, ...bare } = config;
  const descriptor = await loadProviderDescriptor(bare.provider);
  if (!descriptor) throw new UsageError(`unknown provider "${bare.provider}"`, cmd);
  const baseline = await baselineOf(descriptor);
  const provider = await createProvider(bare);
  const poolProvider = poolSize ? await createProvider(bare) : undefined;
  const runId = newBenchRunId();
  const labels = { [benchRunLabel]: runId };
  // No network: the policy an agent sandbox typically gets, and the same for every contender.
  const policy = {
    labels,
    ...(offersNoIsolation(descriptor) ? {} : { networkIsolation: true }),
  };
  let engine: BenchEngine | undefined;
  try {
    const options = sectionOf(bare, bare.provider);
    engine = await baseline({ provider, policy, options, runId, labels, tools: benchTools });
    progress(`bench run ${runId} on ${engine.label}`);
    const result = await runBench({
      engine,
      runId,
      provider,
      poolProvider,
      policy,
      iterations,
      concurrency,
      poolSize,
      files,
      progress,
    });
    await report(result, values.json);
    return 0;
  } finally {
    await engine?.close();
    // How the run's sessions ended is of no use to anyone: their records go with the run.
    await provider.reap({ labels, endedOlderThanMs: 0 }).catch(() => {});
    await provider.close?.();
    await poolProvider?.close?.();
  }
}

async function report(result: BenchResult, jsonFile: string | undefined): Promise<void> {
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (jsonFile === "-") {
    process.stdout.write(json);
    return;
  }
  process.stdout.write(formatBenchResult(result));
  if (jsonFile) await writeFile(jsonFile, json);
}
