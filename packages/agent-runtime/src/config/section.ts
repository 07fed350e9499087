import { type PolicyIssue, safeParseInput } from "@cadre/agent-runtime-contract";
import { offersNoIsolation, type ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import {
  acknowledgementKey,
  acknowledgementSchema,
  missingAcknowledgement,
} from "./acknowledgement.js";
import { configIssues } from "./issues.js";

export type SectionCheck =
  | {
      ok: true;
      /** The section as the config keeps it: the parsed options, and the acknowledgement. */
      section: Record<string, unknown>;
      /** What the provider's factory takes. */
      options: Record<string, unknown>;
    }
  | { ok: false; issues: PolicyIssue[] };

/**
 * One provider's section of the `isolation` config through its descriptor's options schema,
 * with issue paths under `path` (e.g. "isolation.docker"). A provider that offers no isolation
 * also takes `acknowledgeNoIsolation`, which must be true when it is the chosen one.
 */
export function checkSection(
  descriptor: ProviderDescriptor,
  section: unknown,
  context: { path: string; chosen: boolean; otherIds: readonly string[] },
): SectionCheck {
  const issues: PolicyIssue[] = [];
  let rest = (section ?? {}) as Record<string, unknown>;
  const acknowledgement: Record<string, unknown> = {};
  if (offersNoIsolation(descriptor)) {
    const { [acknowledgementKey]: acknowledged, ...others } = rest;
    rest = others;
    const ackPath = `${context.path}.${acknowledgementKey}`;
    const checked = safeParseInput(acknowledgementSchema(descriptor), acknowledged);
    if (!checked.success) issues.push(...configIssues(checked.error, ackPath));
    else if (context.chosen && acknowledged !== true) {
      issues.push(missingAcknowledgement(descriptor, ackPath, context.otherIds));
    }
    if (acknowledged !== undefined) acknowledgement[acknowledgementKey] = acknowledged;
  }
  const parsed = safeParseInput(descriptor.optionsSchema, rest);
  if (!parsed.success) issues.push(...configIssues(parsed.error, context.path));
  if (issues.length > 0 || !parsed.success) return { ok: false, issues };
  const options = parsed.data as Record<string, unknown>;
  return { ok: true, section: { ...acknowledgement, ...options }, options };
}
