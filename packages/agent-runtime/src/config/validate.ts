import { type PolicyIssue, PolicyValidationError } from "@cadre/agent-runtime-contract";
import type { ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import {
  type LoadDescriptorOptions,
  loadProviderDescriptor,
  providerIds,
} from "../providers/registry.js";
import { type ParseConfigOptions, parseIsolationConfig } from "./parse.js";
import type { ParsedIsolationConfig } from "./schema.js";
import { checkSection } from "./section.js";

export type ValidateConfigOptions = ParseConfigOptions & LoadDescriptorOptions;

/** A validated config, the chosen provider's descriptor, and the options its factory takes. */
export interface ResolvedIsolationConfig {
  config: ParsedIsolationConfig;
  descriptor: ProviderDescriptor;
  options: Record<string, unknown>;
}

/**
 * Validates the whole `isolation` section: its generic shape, then each provider section through
 * that provider's descriptor, with paths like "isolation.docker.runtime" (PolicyValidationError
 * naming every bad path at once). The chosen provider's package must load (else
 * PROVIDER_UNAVAILABLE naming it); a section of another provider whose package cannot be loaded
 * is left alone.
 */
export async function validateIsolationConfig(
  value: unknown,
  options: ValidateConfigOptions = {},
): Promise<ParsedIsolationConfig> {
  return (await resolveIsolationConfig(value, options)).config;
}

export async function resolveIsolationConfig(
  value: unknown,
  options: ValidateConfigOptions = {},
): Promise<ResolvedIsolationConfig> {
  const root = options.root ?? "isolation";
  const config = parseIsolationConfig(value, options);
  const chosen = await loadProviderDescriptor(config.provider, options);
  if (!chosen) throw new Error(`no descriptor for the known provider "${config.provider}"`);
  const ids = providerIds();
  const validated: ParsedIsolationConfig = { ...config };
  const issues: PolicyIssue[] = [];
  let chosenOptions: Record<string, unknown> = {};
  for (const id of ids) {
    const isChosen = id === config.provider;
    if (!isChosen && config[id] === undefined) continue;
    const descriptor = isChosen
      ? chosen
      : await loadProviderDescriptor(id, options).catch(() => undefined);
    if (!descriptor) continue;
    const checked = checkSection(descriptor, config[id], {
      path: `${root}.${id}`,
      chosen: isChosen,
      otherIds: ids.filter((other) => other !== id),
    });
    if (!checked.ok) {
      issues.push(...checked.issues);
      continue;
    }
    if (config[id] !== undefined) validated[id] = checked.section;
    if (isChosen) chosenOptions = checked.options;
  }
  if (issues.length > 0) {
    throw new PolicyValidationError(issues, { subject: options.subject ?? "isolation config" });
  }
  return { config: validated, descriptor: chosen, options: chosenOptions };
}
