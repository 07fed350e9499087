import {
  labelsSchema,
  PolicyValidationError,
  type ReapOptions,
  type SessionFilter,
  type SessionOptions,
  safeParseInput,
  toPolicyIssues,
} from "@cadre/agent-runtime-contract";
import { z } from "zod";

/** The options of startSession, listSessions and reap: one definition for every provider. */
const sessionOptionsSchema = z
  .strictObject({ signal: z.instanceof(AbortSignal).optional() })
  .optional();
const filterSchema = z
  .strictObject({ labels: labelsSchema.optional(), includeEnded: z.boolean().optional() })
  .optional();
const durationSchema = z.number().nonnegative().max(Number.MAX_SAFE_INTEGER);
const reapOptionsSchema = z
  .strictObject({
    olderThanMs: durationSchema.optional(),
    endedOlderThanMs: durationSchema.optional(),
    labels: labelsSchema.optional(),
  })
  .optional();

function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  subject: string,
  providerId: string,
): z.output<T> {
  const parsed = safeParseInput(schema, value);
  if (!parsed.success) {
    throw new PolicyValidationError(toPolicyIssues(parsed.error), { subject, providerId });
  }
  return parsed.data;
}

export function parseSessionOptions(value: unknown, providerId: string): SessionOptions {
  return parse(sessionOptionsSchema, value, "session options", providerId) ?? {};
}

export function parseSessionFilter(value: unknown, providerId: string): SessionFilter {
  return parse(filterSchema, value, "session filter", providerId) ?? {};
}

export function parseReapOptions(value: unknown, providerId: string): ReapOptions {
  return parse(reapOptionsSchema, value, "reap options", providerId) ?? {};
}
