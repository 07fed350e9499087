import { importProviderExport, type ParsedIsolationConfig } from "@cadre/agent-runtime";
import type { ConformanceOptions, ForeignObject } from "@cadre/agent-runtime-conformance";
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
  const make = await importProviderExport<(options: object) => BackendHooks>(
    config.provider,
    exportName,
  );
  const hooks = make(options);
  return {
    findBackendLeftovers: (labels) => hooks.findBackendLeftovers(labels),
    readBackendLabels: (id) => hooks.readBackendLabels(id),
    plantForeignObjects: () => hooks.plantForeignObjects(),
  };
}
