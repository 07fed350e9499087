import {
  loadConfig,
  type ParsedIsolationConfig,
  type ProviderName,
  parseIsolationConfig,
  providerNames,
} from "@cadre/agent-runtime";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { UsageError } from "./usage-error.js";

export interface ProviderFlags {
  provider?: string | undefined;
  config?: string | undefined;
  runtime?: string | undefined;
}

export const providerFlagSpec = {
  provider: { type: "string", short: "p" },
  config: { type: "string", short: "c" },
  runtime: { type: "string" },
} as const;

export function parseProviderName(value: string, command: string): ProviderName {
  if ((providerNames as readonly string[]).includes(value)) return value as ProviderName;
  throw new UsageError(
    `unknown provider "${value}"; choose one of ${providerNames.join(", ")}`,
    command,
  );
}

/**
 * The isolation config the flags describe, or undefined when they name none. --provider wins
 * over the config file's provider (the file's section for it still applies). Naming the stub on
 * the command line is the acknowledgement the config file would need.
 */
export async function configFromFlags(
  flags: ProviderFlags,
  command: string,
): Promise<ParsedIsolationConfig | undefined> {
  const name =
    flags.provider === undefined ? undefined : parseProviderName(flags.provider, command);
  if (!flags.config && !name) {
    if (flags.runtime !== undefined) {
      throw new UsageError("--runtime needs --provider or --config", command);
    }
    return undefined;
  }
  const base: ParsedIsolationConfig = flags.config
    ? await loadConfig(flags.config)
    : { provider: name as ProviderName };
  const config: ParsedIsolationConfig = { ...base, provider: name ?? base.provider };
  if (name === "stub") {
    config.stub = { ...config.stub, acknowledgeNoIsolation: true };
  }
  if (flags.runtime !== undefined) applyRuntime(config, flags.runtime, command);
  return parseIsolationConfig(config);
}

function applyRuntime(config: ParsedIsolationConfig, runtime: string, command: string): void {
  switch (config.provider) {
    case "docker":
      if (runtime !== "runc" && runtime !== "runsc") {
        throw new UsageError(`--runtime for docker is runc or runsc, not "${runtime}"`, command);
      }
      config.docker = { ...config.docker, runtime };
      return;
    case "kata":
      config.kata = { ...config.kata, runtime };
      return;
    case "stub":
      throw new UsageError("the stub has no runtimes; drop --runtime", command);
  }
}

/** The config the command uses for one provider when no flag names one. */
export function defaultConfigFor(name: ProviderName): ParsedIsolationConfig {
  return name === "stub"
    ? { provider: "stub", stub: { acknowledgeNoIsolation: true } }
    : { provider: name };
}

/** "docker (runsc), isolation user-kernel" */
export async function describeProvider(provider: IsolationProvider): Promise<string> {
  const report = await provider.capabilities();
  const variant = report.variant ? ` (${report.variant})` : "";
  return `${report.providerId}${variant}, isolation "${report.isolation}"`;
}
