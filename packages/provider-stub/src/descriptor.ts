import { defineProvider } from "@cadre/agent-runtime-provider-utils";
import { StubBackend } from "./backend.js";
import { stubCapabilityRows, stubProviderId } from "./capabilities.js";
import { defaultStateDir, stubOptionsSchema } from "./options.js";
import { StubProvider } from "./stub-provider.js";

/** The stub as cadre registers it: `isolation.provider: "stub"`. */
export const providerDescriptor = defineProvider({
  id: stubProviderId,
  packageName: "@cadre/agent-runtime-provider-stub",
  title: "host processes in a scratch directory",
  optionsSchema: stubOptionsSchema,
  create: (options) => new StubProvider(options),
  capabilityRows: stubCapabilityRows,
  backendHooks(options) {
    const backend = new StubBackend(options.stateDir ?? defaultStateDir());
    return {
      findBackendLeftovers: backend.findLeftovers,
      readBackendLabels: backend.readLabels,
      plantForeignObjects: backend.plantForeignObjects,
      findEndRecords: backend.findEndRecords,
      killFromOutside: backend.killFromOutside,
    };
  },
  // A chunk of its own: only `cadre-runtime bench` loads it.
  benchBaseline: async (input) => (await import("./bench-baseline.js")).stubBenchBaseline(input),
});
