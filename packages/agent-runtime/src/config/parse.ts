import { PolicyValidationError, safeParseInput } from "@cadre/agent-runtime-contract";
import type { z } from "zod";
import { configIssues } from "./issues.js";
import { isolationConfigSchema } from "./schema.js";

export type ParsedIsolationConfig = z.output<typeof isolationConfigSchema>;

export interface ParseConfigOptions {
  /** Prefix of every issue path. Default "isolation", as in cadre.config.json. */
  root?: string;
  /** Names the input in the error message, e.g. the config file's path. */
  subject?: string;
}

/** Validates the `isolation` section; throws PolicyValidationError naming every bad path. */
export function parseIsolationConfig(
  value: unknown,
  options: ParseConfigOptions = {},
): ParsedIsolationConfig {
  const root = options.root ?? "isolation";
  const parsed = safeParseInput(isolationConfigSchema, value);
  if (!parsed.success) {
    throw new PolicyValidationError(configIssues(parsed.error, root), {
      subject: options.subject ?? "isolation config",
    });
  }
  return parsed.data;
}
