export {
  type DockerBackendHooks,
  dockerBackendHooks,
  dockerUnavailableReason,
} from "./backend-hooks.js";
export { dockerCapabilityRows } from "./capability-rows.js";
export { type DockerConnection, dockerConnection } from "./connection.js";
export type { ContainerSpecInput } from "./container-spec.js";
export { providerDescriptor } from "./descriptor.js";
export type { ContainerSpec } from "./docker-client.js";
export { createDockerProvider, DockerProvider } from "./docker-provider.js";
export { guardCommands } from "./network-guard.js";
export {
  type DockerProviderOptions,
  type DockerRuntime,
  dockerOptionsSchema,
  type SessionNetworkOptions,
} from "./options.js";
