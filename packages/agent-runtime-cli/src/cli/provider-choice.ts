import {
  loadConfig,
  loadProviderDescriptor,
  type ParsedIsolationConfig,
  type ProviderDescriptor,
  parseIsolationConfig,
  providerIds,
  validateIsolationConfig,
} from "@cadre/agent-runtime";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
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

export function parseProviderId(value: string, command: string): string {
  const ids = providerIds();
  if (ids.includes(value)) return value;
  throw new UsageError(`unknown provider "${value}"; choose one of ${ids.join(", ")}`, command);
}

/**
 * The isolation config the flags describe, or undefined when they name none. --provider wins
 * over the config file's provider (the file's section for it still applies). Naming a provider
 * that offers no isolation (the stub) on the command line is the acknowledgement the config file
 * would need. --runtime means what the provider's descriptor says it means.
 */
export async function configFromFlags(
  flags: ProviderFlags,
  command: string,
): Promise<ParsedIsolationConfig | undefined> {
  const id = flags.provider === undefined ? undefined : parseProviderId(flags.provider, command);
  if (!flags.config && !id) {
    if (flags.runtime !== undefined) {
      throw new UsageError("--runtime needs --provider or --config", command);
    }
    return undefined;
  }
  const base: ParsedIsolationConfig = flags.config
    ? await loadConfig(flags.config)
    : { provider: id as string };
  const config: ParsedIsolationConfig = { ...base, provider: id ?? base.provider };
  // A provider whose package cannot be loaded is left to createProvider, which says why.
  const descriptor = await loadProviderDescriptor(config.provider).catch(() => undefined);
  if (!descriptor) return parseIsolationConfig(config);
  if (id && offersNoIsolation(descriptor)) {
    config[id] = { ...sectionOf(config, id), acknowledgeNoIsolation: true };
  }
  if (flags.runtime !== undefined) {
    if (!descriptor.runtimeOption) {
      throw new UsageError(`the ${descriptor.id} has no runtimes; drop --runtime`, command);
    }
    config[descriptor.id] = {
      ...sectionOf(config, descriptor.id),
      ...descriptor.runtimeOption(flags.runtime),
    };
  }
  return validateIsolationConfig(config);
}

/** The config the command uses for one provider when no flag names one. */
export async function defaultConfigFor(id: string): Promise<ParsedIsolationConfig> {
  const descriptor = await loadProviderDescriptor(id).catch(() => undefined);
  return descriptor && offersNoIsolation(descriptor)
    ? { provider: id, [id]: { acknowledgeNoIsolation: true } }
    : { provider: id };
}

/** The descriptors of every provider whose package loads here, in registration order. */
export async function installedDescriptors(): Promise<ProviderDescriptor[]> {
  const loaded = await Promise.all(
    providerIds().map((id) => loadProviderDescriptor(id).catch(() => undefined)),
  );
  return loaded.filter((d): d is ProviderDescriptor => d !== undefined);
}

/** A provider's section of the config, {} when there is none. */
export function sectionOf(config: ParsedIsolationConfig, id: string): Record<string, unknown> {
  return (config[id] ?? {}) as Record<string, unknown>;
}

/** "docker (runsc), isolation user-kernel" */
export async function describeProvider(provider: IsolationProvider): Promise<string> {
  const report = await provider.capabilities();
  const variant = report.variant ? ` (${report.variant})` : "";
  return `${report.providerId}${variant}, isolation "${report.isolation}"`;
}
