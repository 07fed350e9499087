import type { ConformanceOptions, ForeignObject } from "@cadre/agent-runtime-conformance";
import type { ParsedIsolationConfig } from "../config/parse.js";
import { importProviderModule, requireExport } from "../providers/import-provider.js";
import { providerModuleSpecifier } from "../providers/packages.js";
import { stubBackend } from "./stub-backend.js";

export type { ForeignObject };

/** The suite's hooks that read and write the engine directly, never through the provider. */
export type BackendHooks = Pick<
  ConformanceOptions,
  "findBackendLeftovers" | "readBackendLabels" | "plantForeignObjects"
>;

/**
 * The backend hooks for the configured provider: the engine providers' own (each package exports
 * them, next to the code that writes what they read), imported lazily like the provider itself.
 */
export async function backendHooks(
  config: ParsedIsolationConfig,
  image: string | undefined,
): Promise<BackendHooks> {
  if (config.provider === "stub") return stubBackend(config.stub);
  const [exportName, options] =
    config.provider === "docker"
      ? ["dockerBackendHooks", { ...config.docker, ...(image ? { image } : {}) }]
      : ["kataBackendHooks", { ...config.kata, ...(image ? { image } : {}) }];
  const specifier = providerModuleSpecifier(config.provider);
  const module = await importProviderModule(config.provider, { specifier });
  const make = requireExport<(options: object) => BackendHooks>(
    module,
    exportName,
    config.provider,
    specifier,
  );
  const hooks = make(options);
  return {
    findBackendLeftovers: (labels) => hooks.findBackendLeftovers(labels),
    readBackendLabels: (id) => hooks.readBackendLabels(id),
    plantForeignObjects: () => hooks.plantForeignObjects(),
  };
}
