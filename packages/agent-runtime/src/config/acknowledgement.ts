import type { PolicyIssue } from "@cadre/agent-runtime-contract";
import type { ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";

/**
 * `acknowledgeNoIsolation` in the section of a provider whose every capability row says
 * isolation "none" (the stub): choosing such a provider by config must be deliberate.
 */
export const acknowledgementKey = "acknowledgeNoIsolation";

export function acknowledgementSchema(descriptor: Pick<ProviderDescriptor, "id" | "title">) {
  return z
    .literal(true, { message: `must be true: the ${descriptor.id} provider gives no isolation` })
    .optional()
    .describe(
      `Required (and must be \`true\`) when \`provider\` is \`"${descriptor.id}"\`, which gives no isolation at all: ${descriptor.title}.`,
    );
}

/** The issue of a config that chooses such a provider without acknowledging it. */
export function missingAcknowledgement(
  descriptor: Pick<ProviderDescriptor, "id" | "title">,
  path: string,
  otherIds: readonly string[],
): PolicyIssue {
  const alternatives = otherIds.map((id) => `"${id}"`).join(" or ");
  return {
    path,
    message: `the ${descriptor.id} provider gives no isolation (${descriptor.title}). Set "${descriptor.id}": { "${acknowledgementKey}": true } to choose it anyway${alternatives ? `, or choose ${alternatives}` : ""}`,
  };
}
