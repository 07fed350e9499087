#!/usr/bin/env node
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { runSoak, type SoakReport } from "./soak.js";
import { createTarget, defaultSoakProvider, targetNameFor, variantsByProvider } from "./targets.js";

/** The usage text, with the providers and this host's variants of each from the targets. */
function usage(): string {
  const variants = [...variantsByProvider()];
  const runtimes = variants.flatMap(([provider, names]) => {
    const [first, ...others] = names.filter((name) => name !== undefined);
    return first === undefined
      ? []
      : [`${provider}: ${[`${first} (default)`, ...others].join(", ")}`];
  });
  return `Usage: npm run soak -- [--provider P] [--runtime R] [--sessions N] [--concurrency C] [--json]

Starts, uses and destroys N sessions in sequence, then C at once, and reports errors and leaks
(backend objects of the run, file descriptors and heap of this process).
  --provider     ${variants.map(([provider]) => provider).join(", ")} (default ${defaultSoakProvider() ?? "none"})
  --runtime      the provider's variant on this host:${runtimes.map((line) => `\n                   ${line}`).join("") || " none has one"}
  --sessions     sessions in sequence (default 1000)
  --concurrency  sessions at once (default 50)
  --call-timeout-ms  bound of each call (default 120000)
  --json         print the report as JSON
Exit status: 0 when errors and leaked are 0, 1 otherwise, 2 for usage errors, 3 when the engine is unavailable.`;
}

function count(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  // Heap growth is measured after full collections, which need --expose-gc: re-run with it.
  if (!(globalThis as { gc?: unknown }).gc && !process.env.CADRE_SOAK_NO_GC) {
    const child = spawnSync(
      process.execPath,
      ["--expose-gc", ...process.execArgv, process.argv[1] as string, ...argv],
      { stdio: "inherit" },
    );
    return child.status ?? 1;
  }
  let flags: ReturnType<typeof parse>;
  try {
    flags = parse(argv);
  } catch (error) {
    process.stderr.write(`soak: ${(error as Error).message}\n${usage()}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const target = createTarget(flags.targetName);
  const unavailable = await target.unavailableReason();
  if (unavailable) {
    process.stderr.write(`soak: ${unavailable}\n`);
    return 3;
  }
  const report = await runSoak({
    target,
    sessions: flags.sessions,
    concurrency: flags.concurrency,
    callTimeoutMs: flags.callTimeoutMs,
    log: flags.json ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : summary(report));
  return report.errors === 0 && report.leaked === 0 ? 0 : 1;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      provider: { type: "string" },
      runtime: { type: "string" },
      sessions: { type: "string" },
      concurrency: { type: "string" },
      "call-timeout-ms": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const provider = values.provider ?? defaultSoakProvider();
  if (provider === undefined) throw new Error("no provider that isolates is registered: name one");
  const targetName = targetNameFor(provider, values.runtime);
  if (!targetName)
    throw new Error(
      `no target for --provider ${provider} --runtime ${values.runtime ?? "(default)"}; see the choices below`,
    );
  return {
    targetName,
    sessions: count(values.sessions, 1000, "sessions"),
    concurrency: count(values.concurrency, 50, "concurrency"),
    callTimeoutMs: count(values["call-timeout-ms"], 120_000, "call-timeout-ms"),
    json: values.json === true,
    help: values.help === true,
  };
}

function summary(r: SoakReport): string {
  const mib = (n: number | null) =>
    n === null ? "not measured" : `${(n / 1048576).toFixed(2)} MiB`;
  const lines = [
    `soak ${r.target}: ${r.sessions} sessions (${r.sequential} in sequence, ${r.concurrency} at once) in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  errors: ${r.errors} ${JSON.stringify(r.errorsByCode)}`,
    ...r.errorSamples.slice(0, 5).map((e) => `    ${e.phase}/${e.step} ${e.code}: ${e.message}`),
    `  leaked: ${r.leaked} ${JSON.stringify(r.leaks)}`,
    `  fds: ${r.process.before.fds} -> ${r.process.after.fds}; heap growth: ${mib(r.process.heapGrowthBytes)}`,
  ];
  return `${lines.join("\n")}\n`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
