import {
  PolicyValidationError,
  safeParseInput,
  toPolicyIssues,
} from "@cadre/agent-runtime-contract";
import type { z } from "zod";

/**
 * A provider's options through its one schema, for its constructor: the parsed options, or
 * PolicyValidationError naming every bad key.
 */
export function parseProviderOptions<S extends z.ZodType>(
  providerId: string,
  schema: S,
  options: unknown,
): z.output<S> {
  const parsed = safeParseInput(schema, options ?? {});
  if (!parsed.success) {
    throw new PolicyValidationError(toPolicyIssues(parsed.error), {
      subject: `${providerId} provider options`,
      providerId,
    });
  }
  return parsed.data;
}
