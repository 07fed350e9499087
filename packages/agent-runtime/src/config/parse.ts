import { PolicyValidationError, safeParseInput } from "@cadre/agent-runtime-contract";
import { providerIds } from "../providers/registry.js";
import { configIssues } from "./issues.js";
import { isolationShapeSchema, type ParsedIsolationConfig } from "./schema.js";

export interface ParseConfigOptions {
  /** Prefix of every issue path. Default "isolation", as in cadre.config.json. */
  root?: string;
  /** Names the input in the error message, e.g. the config file's path. */
  subject?: string;
}

/**
 * Validates the generic shape of the `isolation` section, without loading any provider: a known
 * provider id, a well-formed pool, and an object for each provider section. Throws
 * PolicyValidationError naming every bad path. The contents of the sections are validated by
 * validateIsolationConfig (which createProvider and loadConfig call), since that needs the
 * providers' descriptors.
 */
export function parseIsolationConfig(
  value: unknown,
  options: ParseConfigOptions = {},
): ParsedIsolationConfig {
  const parsed = safeParseInput(isolationShapeSchema(providerIds()), value);
  if (!parsed.success) {
    throw new PolicyValidationError(configIssues(parsed.error, options.root ?? "isolation"), {
      subject: options.subject ?? "isolation config",
    });
  }
  return parsed.data as ParsedIsolationConfig;
}
