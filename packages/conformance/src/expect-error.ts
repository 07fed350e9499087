import {
  AgentRuntimeError,
  type AgentRuntimeErrorCode,
  CapabilityMismatchError,
  type IsolationPolicy,
  PolicyValidationError,
  type SessionEndCause,
  type SessionInfo,
} from "@cadre/agent-runtime-contract";
import { expect } from "vitest";
import { type ConformanceContext, testLabelKey } from "./suite-context.js";

/** Awaits `promise` and returns its typed error; fails when it resolves or throws something else. */
export async function expectErrorCode(
  promise: Promise<unknown>,
  code: AgentRuntimeErrorCode,
): Promise<AgentRuntimeError> {
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: await promise };
  } catch (error) {
    outcome = { error };
  }
  if ("value" in outcome) {
    throw new Error(`expected an error with code ${code}, but the call resolved`);
  }
  const { error } = outcome;
  if (!AgentRuntimeError.isInstance(error)) {
    throw new Error(`expected an AgentRuntimeError with code ${code}, got: ${String(error)}`, {
      cause: error,
    });
  }
  expect(error.code, error.message).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

/**
 * Calls startSession with `policy` (plus a label unique to this call) and expects it to fail with
 * `code`, then checks that nothing was created: listSessions and findBackendLeftovers know nothing
 * with that label, and the run's sessions did not change.
 */
export async function expectStartRefused(
  ctx: ConformanceContext,
  policy: unknown,
  code: "POLICY_INVALID" | "CAPABILITY_MISMATCH",
): Promise<AgentRuntimeError> {
  const probeLabels = { [testLabelKey]: ctx.token("refused") };
  const withLabels =
    typeof policy === "object" && policy !== null && !Array.isArray(policy)
      ? { ...policy, labels: { ...((policy as IsolationPolicy).labels ?? {}), ...probeLabels } }
      : policy;
  const listedBefore = await ctx.listedIds();
  const leftoversBefore = await ctx.leftovers();

  const attempt = ctx.provider.startSession(withLabels as IsolationPolicy).then((id) => {
    ctx.track(id);
    return id;
  });
  const error = await expectErrorCode(attempt, code);

  expect(await ctx.listedIds(probeLabels), "listSessions after a refused start").toEqual([]);
  expect(await ctx.leftovers(probeLabels), "backend objects after a refused start").toEqual([]);
  expect(await ctx.listedIds(), "the run's sessions after a refused start").toEqual(listedBefore);
  expect(await ctx.leftovers(), "the run's backend objects after a refused start").toEqual(
    leftoversBefore,
  );
  return error;
}

export function unsupportedOf(error: AgentRuntimeError): string[] {
  expect(CapabilityMismatchError.isInstance(error)).toBe(true);
  return [...(error as CapabilityMismatchError).unsupportedPolicies].sort();
}

export function issuePathsOf(error: AgentRuntimeError): string[] {
  expect(PolicyValidationError.isInstance(error)).toBe(true);
  return (error as PolicyValidationError).issues.map((i) => i.path);
}

/**
 * Expects getSession to tell that the session ended, with a cause that has these fields: a
 * removed session's end is kept for a while (contract v1 addition). Returns the session's info.
 */
export async function expectEnded(
  ctx: ConformanceContext,
  id: string,
  cause: Partial<SessionEndCause>,
): Promise<SessionInfo> {
  const info = await ctx.provider.getSession(id);
  expect(info.state, `getSession(${id}) after it ended`).toBe("ended");
  expect(info.end?.cause, `how ${id} ended`).toMatchObject(cause);
  expect(Number.isFinite(Date.parse(info.end?.at ?? "")), "its end has a time").toBe(true);
  return info;
}
