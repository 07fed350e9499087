import { loadProviderDescriptor, type ParsedIsolationConfig } from "@cadre/agent-runtime";
import type { ConformanceOptions, ForeignObject } from "@cadre/agent-runtime-conformance";
import { sectionOf } from "../cli/provider-choice.js";

export type { ForeignObject };

/** The suite's hooks that read and write the engine directly, never through the provider. */
export type BackendHooks = Pick<
  ConformanceOptions,
  "findBackendLeftovers" | "readBackendLabels" | "plantForeignObjects" | "killFromOutside"
> &
  Partial<Pick<ConformanceOptions, "findEndRecords">>;

/**
 * The backend hooks of the configured provider, from its descriptor (each package writes them
 * next to the code that writes what they read), loaded lazily like the provider itself. With an
 * image, the hooks plant their look-alikes from it.
 */
export async function backendHooks(
  config: ParsedIsolationConfig,
  image: string | undefined,
): Promise<BackendHooks> {
  const descriptor = await loadProviderDescriptor(config.provider);
  if (!descriptor) throw new Error(`no provider "${config.provider}"`);
  const section = sectionOf(config, config.provider);
  const { acknowledgeNoIsolation: _, ...options } = section;
  const hooks = await descriptor.backendHooks({ ...options, ...(image ? { image } : {}) });
  return {
    findBackendLeftovers: (labels) => hooks.findBackendLeftovers(labels),
    readBackendLabels: (id) => hooks.readBackendLabels(id),
    plantForeignObjects: () => hooks.plantForeignObjects(),
    killFromOutside: (id) => hooks.killFromOutside(id),
    ...(hooks.findEndRecords
      ? { findEndRecords: (labels: Record<string, string>) => hooks.findEndRecords!(labels) }
      : {}),
  };
}
