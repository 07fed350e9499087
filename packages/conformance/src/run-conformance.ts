import { afterAll, afterEach, beforeAll } from "vitest";
import { registerCleanup } from "./areas/cleanup.js";
import { registerConcurrency } from "./areas/concurrency.js";
import { registerEdges } from "./areas/edges.js";
import { registerEnforcement } from "./areas/enforcement.js";
import { registerExec } from "./areas/exec.js";
import { registerFiles } from "./areas/files/index.js";
import { registerHostileTenant } from "./areas/hostile/index.js";
import { registerIsolation } from "./areas/isolation.js";
import { registerLeakCheck } from "./areas/leaks.js";
import { registerLifecycle } from "./areas/lifecycle.js";
import { registerPolicy } from "./areas/policy.js";
import { registerProcesses } from "./areas/processes/index.js";
import { registerReport } from "./areas/report.js";
import { registerUsage } from "./areas/usage.js";
import { describeWhenAvailable } from "./availability.js";
import type { ConformanceOptions } from "./options.js";
import { ConformanceContext } from "./suite-context.js";

/** Title of the top-level describe block runConformance() registers. */
export function conformanceSuiteTitle(name: string): string {
  return `conformance: ${name}`;
}

/**
 * Registers the conformance suite for one provider with vitest: call it at the top level of a
 * test file. Tests run in order; the last one checks that nothing of this run is left behind.
 */
export function runConformance(options: ConformanceOptions): void {
  assertRequiredOptions(options);
  describeWhenAvailable(conformanceSuiteTitle(options.name), options.unavailableReason, () => {
    const ctx = new ConformanceContext(options);
    beforeAll(() => ctx.setUp(), ctx.ms(60_000));
    afterEach(() => ctx.destroyPerTest(), ctx.ms(60_000));
    afterAll(() => ctx.tearDown(), ctx.ms(60_000));

    registerReport(ctx);
    registerLifecycle(ctx);
    registerExec(ctx);
    registerPolicy(ctx);
    registerEnforcement(ctx);
    registerIsolation(ctx);
    registerConcurrency(ctx);
    registerCleanup(ctx);
    registerHostileTenant(ctx);
    registerEdges(ctx);
    registerFiles(ctx);
    registerProcesses(ctx);
    registerUsage(ctx);
    registerLeakCheck(ctx);
  });
}

/** Untyped callers get a message instead of a suite whose backend checks silently do nothing. */
function assertRequiredOptions(options: ConformanceOptions): void {
  const missing: string[] = [];
  for (const hook of [
    "findBackendLeftovers",
    "readBackendLabels",
    "plantForeignObjects",
  ] as const) {
    if (typeof options[hook] !== "function") missing.push(hook);
  }
  if (typeof options.providerModule !== "string" || options.providerModule.length === 0) {
    missing.push("providerModule");
  }
  if (missing.length > 0) {
    throw new TypeError(
      `runConformance(${JSON.stringify(options.name)}) needs ${listed(missing)}: ` +
        "findBackendLeftovers, readBackendLabels and plantForeignObjects read and write the engine " +
        "directly for the leak and hostile-tenant checks, and providerModule " +
        "lets the suite kill an owner process and reap its session. See the conformance README.",
    );
  }
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
