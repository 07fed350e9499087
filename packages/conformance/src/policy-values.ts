import type { PolicyField } from "@cadre/agent-runtime-contract";
import type { ConformanceContext } from "./suite-context.js";

const defaults: Record<Exclude<PolicyField, "minimumIsolation">, unknown> = {
  memory: 128 * 1024 * 1024,
  cpu: 0.5,
  networkIsolation: true,
  readOnlyRootfs: true,
  pids: 64,
  image: "cadre-conformance/probe:1",
  env: { CADRE_PROBE: "1" },
  workdir: "/tmp",
  user: "1000:1000",
  labels: { "cadre.conformance/probe": "1" },
  ttlMs: 60 * 60 * 1000,
};

/**
 * A value of `field` that asks the provider for something, within the report's limits, so that
 * a provider that cannot enforce the field must refuse it.
 */
export function requestValue(ctx: ConformanceContext, field: PolicyField): unknown {
  if (field === "minimumIsolation") return ctx.report.isolation;
  if (field === "image" && ctx.options.image !== undefined) return ctx.options.image;
  const value = defaults[field];
  if (typeof value !== "number") return value;
  return clampToLimits(ctx, field, value);
}

export function clampToLimits(ctx: ConformanceContext, field: PolicyField, value: number): number {
  const { min, max } = ctx.report.policy[field].limits ?? {};
  let clamped = value;
  if (min !== undefined && clamped < min) clamped = min;
  if (max !== undefined && clamped > max) clamped = max;
  return clamped;
}
