import type {
  FieldCapability,
  PolicyField,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../expect-error.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";
import { waitUntil } from "../wait-until.js";

const names = conformanceTestNames.edges;

/** The contract schema's own bounds of each numeric field, and its smallest step. */
const numericFields: Array<{ field: PolicyField; schemaMax: number; step: number }> = [
  { field: "memory", schemaMax: Number.MAX_SAFE_INTEGER, step: 1 },
  { field: "cpu", schemaMax: 1024, step: 0.001 },
  { field: "pids", schemaMax: 4_194_304, step: 1 },
];

/** Values a report's limits accept, and values just past them that it must refuse. */
function valuesAt(capability: FieldCapability, schemaMax: number, step: number) {
  const min = capability.limits?.min;
  const max = capability.limits?.max;
  const accepted = [min, max].filter((v): v is number => v !== undefined && v <= schemaMax);
  const refused: number[] = [];
  if (min !== undefined && min - step > 0) refused.push(min - step);
  if (max !== undefined && max + step <= schemaMax) refused.push(max + step);
  return { accepted, refused };
}

/**
 * The same input gets the same answer on every provider, unless the capability report explains
 * the difference: values at the edges of what the schema and the report accept.
 */
export function registerEdges(ctx: ConformanceContext): void {
  describe("edges", () => {
    it(
      names.numericLimits,
      async () => {
        for (const { field, schemaMax, step } of numericFields) {
          const capability = ctx.report.policy[field];
          if (!capability.enforced) {
            if (capability.advisory) continue;
            await expectErrorCode(ctx.start({ [field]: 1 }), "CAPABILITY_MISMATCH");
            continue;
          }
          const { accepted, refused } = valuesAt(capability, schemaMax, step);
          for (const value of refused) {
            await expectErrorCode(ctx.start({ [field]: value }), "CAPABILITY_MISMATCH");
          }
          for (const value of accepted) {
            // startSession never returns a session that cannot run.
            const id = await ctx.start({ [field]: value });
            const result = await ctx.provider.exec(id, ["true"], { timeoutMs: ctx.ms(60_000) });
            expect(result.exitCode, `${field}: ${value}, then exec true`).toBe(0);
            await ctx.destroy(id);
          }
        }
      },
      ctx.ms(300_000),
    );

    it(
      names.missingUser,
      async () => {
        if (!ctx.enforced("user")) return;
        const error = await expectErrorCode(
          ctx.start({ user: "cadre-no-such-user" }),
          "POLICY_INVALID",
        );
        expect(JSON.stringify(error), "the issue names the user field").toContain('"user"');
      },
      ctx.ms(60_000),
    );

    it(
      names.missingImage,
      async () => {
        if (!ctx.enforced("image")) return;
        const error = await expectErrorCode(
          ctx.start({ image: `cadre-test/not-there-${ctx.token("image")}:1` }),
          "PROVIDER_UNAVAILABLE",
        );
        const checks = (error as ProviderUnavailableError).checks;
        expect(
          checks.some((c) => !c.ok && c.fix),
          "a failed check with its fix",
        ).toBe(true);
      },
      ctx.ms(60_000),
    );

    it(
      names.expiredTtl,
      async () => {
        if (!ctx.report.features.ttl || !ctx.enforced("ttlMs")) return;
        const id = await ctx.start({ ttlMs: 1 });
        // Its TTL counts from its created-at, which is before start() returned.
        const returned = Date.now();
        await waitUntil(
          "a millisecond past the TTL",
          async () => Date.now() > returned + 1,
          1_000,
          1,
        );
        await expectErrorCode(ctx.provider.exec(id, ["true"]), "SESSION_NOT_FOUND");
        await expectErrorCode(ctx.provider.getSession(id), "SESSION_NOT_FOUND");
      },
      ctx.ms(60_000),
    );
  });
}
