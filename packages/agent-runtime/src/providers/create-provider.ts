import {
  AgentRuntimeError,
  type IsolationProvider,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { type ParsedIsolationConfig, parseIsolationConfig } from "../config/parse.js";
import type { IsolationConfig, ProviderName } from "../config/schema.js";
import { SessionPool } from "../pool/session-pool.js";
import { importProviderExport, type ModuleImporter } from "./import-provider.js";

export interface CreateProviderOptions {
  /** Replaces dynamic import(); for tests of the loader. */
  importer?: ModuleImporter;
}

type Factory = (
  options?: Record<string, unknown>,
) => IsolationProvider | Promise<IsolationProvider>;

const factoryNames: Record<ProviderName, string> = {
  stub: "createStubProvider",
  docker: "createDockerProvider",
  kata: "createKataProvider",
};

/**
 * Builds the provider that the `isolation` section of cadre.config.json names. Validates the
 * config first (PolicyValidationError with paths like "isolation.docker.runtime"), then imports
 * only the chosen provider's package (ProviderUnavailableError naming the package when it is
 * missing). With a `pool` section the provider comes wrapped in a SessionPool.
 */
export async function createProvider(
  config: IsolationConfig,
  options: CreateProviderOptions = {},
): Promise<IsolationProvider> {
  const parsed = parseIsolationConfig(config);
  const name = parsed.provider;
  const factory = await importProviderExport<Factory>(name, factoryNames[name], options);
  let provider: IsolationProvider;
  try {
    provider = await factory(providerOptions(parsed));
  } catch (error) {
    if (AgentRuntimeError.isInstance(error)) throw error;
    throw new ProviderUnavailableError(
      `The ${name} provider could not be created: ${error instanceof Error ? error.message : String(error)}. Run "cadre-runtime doctor --provider ${name}" to see what this host lacks.`,
      { providerId: name, cause: error },
    );
  }
  return parsed.pool ? new SessionPool(provider, parsed.pool) : provider;
}

/** The options object the chosen provider's factory takes. */
export function providerOptions(config: ParsedIsolationConfig): Record<string, unknown> {
  switch (config.provider) {
    case "stub": {
      const { acknowledgeNoIsolation: _acknowledged, ...stub } = config.stub ?? {};
      return stub;
    }
    case "docker":
      return { ...config.docker };
    case "kata":
      return { ...config.kata };
  }
}
