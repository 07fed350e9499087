import type { findLabelledObjects } from "@cadre/agent-runtime-provider-kata";
import type { KataConfig } from "../config/schema.js";
import { importProviderModule, requireExport } from "../providers/import-provider.js";
import { providerModuleSpecifier } from "../providers/packages.js";

/**
 * Reads containerd directly (its gRPC API, not the provider) for every object carrying the
 * labels: containers and their tasks, snapshots, leases, and the per-session FIFO directories.
 * The Kata package does the reading, with the provider's own defaults for what the config omits.
 */
export function kataLeftovers(
  kata: KataConfig | undefined,
): (wanted: Record<string, string>) => Promise<string[]> {
  return async (wanted) => {
    const specifier = providerModuleSpecifier("kata");
    const module = await importProviderModule("kata", { specifier });
    const find = requireExport<typeof findLabelledObjects>(
      module,
      "findLabelledObjects",
      "kata",
      specifier,
    );
    const found = await find(kata ?? {}, wanted);
    return found.map((o) => `${o.kind} ${o.id}`);
  };
}
