export { type DockerBackendHooks, dockerBackendHooks } from "./backend-hooks.js";
export { dockerCapabilityRows } from "./capability-rows.js";
export type { ContainerSpecInput } from "./container-spec.js";
export { createDockerProvider, DockerProvider } from "./docker-provider.js";
export { guardCommands } from "./network-guard.js";
export type { DockerProviderOptions, DockerRuntime } from "./options.js";
export type { SessionNetworkOptions } from "./session-network.js";
