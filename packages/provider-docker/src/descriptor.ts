import { defineProvider } from "@cadre/agent-runtime-provider-utils";
import { dockerBackendHooks, dockerUnavailableReason } from "./backend-hooks.js";
import { dockerCapabilityRows } from "./capability-rows.js";
import { DockerProvider } from "./docker-provider.js";
import { type DockerRuntime, defaultImage, dockerOptionsSchema } from "./options.js";

/** Docker as cadre registers it: `isolation.provider: "docker"`. */
export const providerDescriptor = defineProvider({
  id: "docker",
  packageName: "@cadre/agent-runtime-provider-docker",
  title: "Docker or Podman containers, hardened runc or crun, or gVisor (runsc)",
  optionsSchema: dockerOptionsSchema,
  create: (options) => new DockerProvider(options),
  defaultImage,
  capabilityRows: dockerCapabilityRows,
  backendHooks: (options) => dockerBackendHooks(options),
  unavailableReason: (options) => dockerUnavailableReason(options),
  runtimeOption: (name) => ({ runtime: name as DockerRuntime }),
  automaticChoices: [
    { variant: "runsc", options: { runtime: "runsc" }, isolation: "user-kernel" },
    { variant: "runc", options: { runtime: "runc" }, isolation: "container" },
  ],
  // A chunk of its own: only `cadre-runtime bench` loads it.
  benchBaseline: async (input) => (await import("./bench-baseline.js")).dockerBenchBaseline(input),
});
