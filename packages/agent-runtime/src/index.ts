export { ConfigFileError, type ConfigFileLocation } from "./config/errors.js";
export { loadConfig } from "./config/load.js";
export {
  type ParseConfigOptions,
  type ParsedIsolationConfig,
  parseIsolationConfig,
} from "./config/parse.js";
export {
  type DockerConfig,
  dockerConfigSchema,
  type IsolationConfig,
  isolationConfigSchema,
  type KataConfig,
  kataConfigSchema,
  type ProviderName,
  providerNames,
  type StubConfig,
  stubConfigSchema,
} from "./config/schema.js";
export {
  SessionPool,
  type SessionPoolEvents,
  type SessionPoolOptions,
  type SessionPoolStats,
} from "./pool/session-pool.js";
export { type CreateProviderOptions, createProvider } from "./providers/create-provider.js";
export { importProviderExport, type ModuleImporter } from "./providers/import-provider.js";
