import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  loadProviderDescriptor,
  type ParsedIsolationConfig,
  type ProviderDescriptor,
} from "@cadre/agent-runtime";
import { offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import { type ConformanceSettings, conformanceSettingsEnv } from "../conformance/settings.js";
import { printJson, progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { configFromFlags, providerFlagSpec, sectionOf } from "./provider-choice.js";
import { knownProviders, optionHelp, runtimeOptionHelp } from "./provider-help.js";
import { UsageError } from "./usage-error.js";
import { runSuiteFile, type SuiteCounts } from "./vitest-runner.js";

export const conformanceHelp = async () => `Usage: cadre-runtime conformance --provider P [options]

Runs the conformance suite against provider P on this host, with real sessions, and prints how
many tests passed, failed and were skipped.

Options:
${optionHelp("-p, --provider P", 21, `${knownProviders()} (required unless --config names one)`)}
  -c, --config F     use the provider and options of this cadre.config.json
${await runtimeOptionHelp(21)}
      --image I      image of the suite's sessions (default: the provider's)
      --json         print { passed, failed, skipped, errors, provider } as JSON
  -h, --help         show this help

Exit status: 0 when nothing failed, 1 otherwise.`;

const flagSpec = {
  ...providerFlagSpec,
  image: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const suiteFile = fileURLToPath(new URL("./conformance/host-suite.js", import.meta.url));

export async function conformanceCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, flagSpec, "conformance");
  if (values.help) {
    process.stdout.write(`${await conformanceHelp()}\n`);
    return 0;
  }
  const config = await configFromFlags(values, "conformance");
  if (!config) throw new UsageError("--provider (or --config) is required", "conformance");

  const descriptor = await loadProviderDescriptor(config.provider);
  if (!descriptor) throw new UsageError(`unknown provider "${config.provider}"`, "conformance");
  // The suite reaps orphans; a host-process provider (the stub) without a configured state dir
  // gets a private one, so a conformance run never touches the sessions of the user's own `run`s.
  const scratch =
    offersNoIsolation(descriptor) && !values.config ? await privateStateDir() : undefined;
  if (scratch)
    config[config.provider] = { ...sectionOf(config, config.provider), stateDir: scratch };

  const settings: ConformanceSettings = {
    name: suiteName(config),
    config,
  };
  const image = values.image ?? suiteImage(config, descriptor);
  if (image) settings.image = image;
  process.env[conformanceSettingsEnv] = JSON.stringify(settings);

  progress(`running the conformance suite against ${settings.name}; this takes a while`);
  let counts: SuiteCounts;
  try {
    counts = await runSuiteFile(dirname(suiteFile), suiteFile);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }

  const ok = counts.failed === 0 && counts.errors === 0 && counts.passed > 0;
  if (values.json) printJson({ provider: settings.name, ...counts });
  else {
    process.stdout.write(
      `${settings.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped` +
        `${counts.errors ? `, ${counts.errors} errors outside tests` : ""}\n`,
    );
  }
  return ok ? 0 : 1;
}

/**
 * The suite needs the image its sessions use: without --image the config's, else the default
 * its provider's descriptor names (none for a provider without images).
 */
function suiteImage(
  config: ParsedIsolationConfig,
  descriptor: ProviderDescriptor,
): string | undefined {
  const image = sectionOf(config, config.provider).image;
  return typeof image === "string" ? image : descriptor.defaultImage;
}

/** "docker (runsc)": the provider, and the runtime its section names. */
function suiteName(config: ParsedIsolationConfig): string {
  const runtime = sectionOf(config, config.provider).runtime;
  return typeof runtime === "string" ? `${config.provider} (${runtime})` : config.provider;
}

async function privateStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "cadre-runtime-conformance-"));
}
