import { defineProvider } from "@cadre/agent-runtime-provider-utils";
import { kataBackendHooks } from "./backend-hooks.js";
import { kataCapabilityRows, providerId } from "./capabilities.js";
import { defaultKataImage, kataOptionsSchema } from "./options.js";
import { KataProvider } from "./provider.js";
import { kataUnavailableReason } from "./unavailable-reason.js";

/** Kata Containers through containerd as cadre registers it: `isolation.provider: "kata"`. */
export const providerDescriptor = defineProvider({
  id: providerId,
  packageName: "@cadre/agent-runtime-provider-kata",
  title: "a micro-VM per session: Kata Containers through containerd",
  optionsSchema: kataOptionsSchema,
  create: (options) => new KataProvider(options),
  defaultImage: defaultKataImage,
  capabilityRows: kataCapabilityRows,
  backendHooks: (options) => kataBackendHooks(options),
  unavailableReason: (options) => kataUnavailableReason(options),
  runtimeOption: (name) => ({ runtime: name }),
  automaticChoices: [{ options: {}, isolation: "vm" }],
  // A chunk of its own: only `cadre-runtime bench` loads it.
  benchBaseline: async (input) => (await import("./bench-baseline.js")).kataBenchBaseline(input),
});
