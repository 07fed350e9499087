import type { CapabilityReport } from "./capabilities.js";
import { CapabilityMismatchError, PolicyValidationError } from "./errors.js";
import { isolationSatisfies } from "./isolation-level.js";
import { isolationPolicySchema, isPolicyField, type ValidatedPolicy } from "./policy.js";
import { safeParseInput, toPolicyIssues } from "./zod-issues.js";

/**
 * The two checks every startSession() makes before any side effect:
 * 1. schema: POLICY_INVALID naming every bad path;
 * 2. capabilities: CAPABILITY_MISMATCH naming every field this provider cannot deliver as asked,
 *    and every field the contract does not know. There is no silent downgrade.
 * Returns the policy with known fields only.
 */
export function checkPolicy(policy: unknown, report: CapabilityReport): ValidatedPolicy {
  const parsed = safeParseInput(isolationPolicySchema, policy);
  if (!parsed.success) {
    throw new PolicyValidationError(toPolicyIssues(parsed.error), {
      providerId: report.providerId,
    });
  }

  const reasons: Record<string, string> = {};
  const validated: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parsed.data)) {
    if (value === undefined) continue;
    if (!isPolicyField(field)) {
      reasons[field] = "not a field of the isolation-provider/v1 policy";
      continue;
    }
    validated[field] = value;
    const reason = whyNotDeliverable(field, value, report);
    if (reason) reasons[field] = reason;
  }

  if (Object.keys(reasons).length > 0) {
    throw new CapabilityMismatchError(reasons, { providerId: report.providerId });
  }
  return validated as ValidatedPolicy;
}

function whyNotDeliverable(
  field: keyof CapabilityReport["policy"],
  value: unknown,
  report: CapabilityReport,
): string | undefined {
  if (field === "minimumIsolation") {
    const required = value as CapabilityReport["isolation"];
    return isolationSatisfies(report.isolation, required)
      ? undefined
      : `requires "${required}" isolation, this provider gives "${report.isolation}"`;
  }
  if (!asksForSomething(value)) return undefined;

  const capability = report.policy[field];
  if (!capability.enforced && !capability.advisory) {
    return `not enforced here: ${capability.mechanism}`;
  }
  const { min, max } = capability.limits ?? {};
  if (typeof value === "number") {
    if (min !== undefined && value < min) return `${value} is below this provider's minimum ${min}`;
    if (max !== undefined && value > max) return `${value} is above this provider's maximum ${max}`;
  }
  return undefined;
}

/** false, and an empty env or labels map, ask the provider for nothing. */
function asksForSomething(value: unknown): boolean {
  if (value === false) return false;
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0;
  return true;
}
