import { createProvider, type ParsedIsolationConfig, providerIds } from "@cadre/agent-runtime";
import {
  AgentRuntimeError,
  type DoctorReport,
  doctorReport,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { printJson } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { configFromFlags, defaultConfigFor, providerFlagSpec } from "./provider-choice.js";
import { optionHelp, runtimeOptionHelp } from "./provider-help.js";

export const doctorHelp = async () => `Usage: cadre-runtime doctor [options]

Checks each provider's readiness on this host and prints the fix for every failed check.

Options:
${optionHelp("-p, --provider P", 21, `check only this provider (${providerIds().join(", ")})`)}
  -c, --config F     use the provider and options of this cadre.config.json
${await runtimeOptionHelp(21)}
      --json         print the reports as JSON: { ready, providers: [...] }
  -h, --help         show this help

Exit status: with --provider or --config, 0 when that provider is ready, else 1.
Without them, 0: read the report for each provider's readiness.`;

const flagSpec = {
  ...providerFlagSpec,
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, flagSpec, "doctor");
  if (values.help) {
    process.stdout.write(`${await doctorHelp()}\n`);
    return 0;
  }
  const chosen = await configFromFlags(values, "doctor");
  const configs = chosen ? [chosen] : await Promise.all(providerIds().map(defaultConfigFor));
  const reports: DoctorReport[] = [];
  for (const config of configs) reports.push(await diagnose(config));

  const ready = reports.every((r) => r.ready);
  if (values.json) printJson({ ready, providers: reports });
  else for (const report of reports) process.stdout.write(formatReport(report));
  return chosen && !ready ? 1 : 0;
}

/**
 * A provider's doctor report. A provider that cannot even be built reports why as a check: the
 * loader's own (a missing or unbuilt package names the package and its fix), else the error.
 */
export async function diagnose(config: ParsedIsolationConfig): Promise<DoctorReport> {
  const name = config.provider;
  let provider: Awaited<ReturnType<typeof createProvider>>;
  try {
    provider = await createProvider(config);
  } catch (error) {
    if (ProviderUnavailableError.isInstance(error) && error.checks.length > 0) {
      return doctorReport(name, error.checks);
    }
    return doctorReport(name, [
      {
        id: `${name}.create`,
        title: `create the ${name} provider`,
        ok: false,
        required: true,
        detail: AgentRuntimeError.isInstance(error)
          ? (error as Error).message.split("\n")[0]!
          : String(error),
      },
    ]);
  }
  try {
    if (provider.doctor) return await provider.doctor();
    await provider.capabilities();
    return doctorReport(name, [
      {
        id: `${name}.capabilities`,
        title: "provider answers",
        ok: true,
        required: true,
        detail: "this provider has no doctor(); capabilities() answered",
      },
    ]);
  } finally {
    await provider.close?.();
  }
}

export function formatReport(report: DoctorReport): string {
  const lines = [`${report.providerId}: ${report.ready ? "ready" : "NOT READY"}`];
  for (const check of report.checks) {
    const mark = check.ok ? "ok  " : check.required ? "FAIL" : "warn";
    lines.push(`  [${mark}] ${check.title}: ${check.detail}`);
    if (!check.ok && check.fix) lines.push(`         fix: ${check.fix}`);
  }
  return `${lines.join("\n")}\n\n`;
}
