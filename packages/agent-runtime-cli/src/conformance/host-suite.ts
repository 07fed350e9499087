// The test file `cadre-runtime conformance` runs through vitest's Node API. It reads the
// provider's config from the environment and registers the whole conformance suite for it.

import { createProvider, type ParsedIsolationConfig } from "@cadre/agent-runtime";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { describeFailedChecks } from "@cadre/agent-runtime-contract";
import { backendHooks } from "./backend-hooks.js";
import { readConformanceSettings } from "./settings.js";

const settings = readConformanceSettings();

runConformance({
  name: settings.name,
  createProvider: () => createProvider(settings.config),
  image: settings.image,
  unavailableReason: await unavailableReason(settings.config),
  providerModule: new URL("./provider-module.js", import.meta.url).href,
  ...(await backendHooks(settings.config, settings.image)),
});

/** Why the provider cannot run here, from its own doctor(); undefined when it is ready. */
async function unavailableReason(config: ParsedIsolationConfig): Promise<string | undefined> {
  try {
    const provider = await createProvider(config);
    try {
      const report = await provider.doctor?.();
      if (!report || report.ready) return undefined;
      return `${config.provider} is not ready on this host: ${describeFailedChecks(report.checks)}`;
    } finally {
      await provider.close?.();
    }
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
