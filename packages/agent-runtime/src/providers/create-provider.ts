import {
  AgentRuntimeError,
  type IsolationProvider,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import type { IsolationConfig } from "../config/schema.js";
import { resolveIsolationConfig } from "../config/validate.js";
import { SessionPool } from "../pool/session-pool.js";
import type { LoadDescriptorOptions } from "./registry.js";

export type CreateProviderOptions = LoadDescriptorOptions;

/**
 * Builds the provider that the `isolation` section of cadre.config.json names. Validates the
 * config first (PolicyValidationError with paths like "isolation.docker.runtime"), importing
 * only the chosen provider's package (ProviderUnavailableError naming the package when it is
 * missing) for its descriptor, whose factory then gets the section's options. With a `pool`
 * section the provider comes wrapped in a SessionPool.
 */
export async function createProvider(
  config: IsolationConfig,
  options: CreateProviderOptions = {},
): Promise<IsolationProvider> {
  const resolved = await resolveIsolationConfig(config, options);
  const { id } = resolved.descriptor;
  let provider: IsolationProvider;
  try {
    provider = await resolved.descriptor.create(resolved.options);
  } catch (error) {
    if (AgentRuntimeError.isInstance(error)) throw error;
    throw new ProviderUnavailableError(
      `The ${id} provider could not be created: ${error instanceof Error ? error.message : String(error)}. Run "cadre-runtime doctor --provider ${id}" to see what this host lacks.`,
      { providerId: id, cause: error },
    );
  }
  return resolved.config.pool ? new SessionPool(provider, resolved.config.pool) : provider;
}
