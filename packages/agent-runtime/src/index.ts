export type { ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
export { ConfigFileError, type ConfigFileLocation } from "./config/errors.js";
export { loadConfig } from "./config/load.js";
export { type ParseConfigOptions, parseIsolationConfig } from "./config/parse.js";
export type { IsolationConfig, ParsedIsolationConfig, PoolConfig } from "./config/schema.js";
export { type ValidateConfigOptions, validateIsolationConfig } from "./config/validate.js";
export {
  SessionPool,
  type SessionPoolEvents,
  type SessionPoolOptions,
  type SessionPoolStats,
} from "./pool/session-pool.js";
export { type CreateProviderOptions, createProvider } from "./providers/create-provider.js";
export type { ModuleImporter } from "./providers/import-descriptor.js";
export {
  type LoadDescriptorOptions,
  loadProviderDescriptor,
  loadProviderDescriptors,
  providerIds,
  registerProvider,
} from "./providers/registry.js";
