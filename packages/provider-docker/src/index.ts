export { dockerCapabilityRows } from "./capability-rows.js";
export { createDockerProvider, DockerProvider } from "./docker-provider.js";
export type { DockerProviderOptions, DockerRuntime } from "./options.js";
