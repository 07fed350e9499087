import { capabilityReportSchema, specificationVersion } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.report;

export function registerReport(ctx: ConformanceContext): void {
  describe("report", () => {
    it(names.schema, async () => {
      const parsed = capabilityReportSchema.safeParse(await ctx.provider.capabilities());
      expect(parsed.error?.issues ?? []).toEqual([]);
    });

    it(names.providerId, () => {
      expect(ctx.report.providerId).toBe(ctx.provider.id);
    });

    it(names.specificationVersion, () => {
      expect(ctx.provider.specificationVersion).toBe(specificationVersion);
    });

    it(names.noAdvisory, () => {
      const advisory = Object.entries(ctx.report.policy)
        .filter(([, capability]) => capability.advisory)
        .map(([field]) => field);
      expect(advisory).toEqual([]);
    });

    it(names.ttlFeature, () => {
      expect(ctx.report.features.ttl).toBe(ctx.enforced("ttlMs"));
    });

    it(names.persistent, () => {
      expect(ctx.report.features.persistentSessions).toBe(true);
    });

    it(
      names.doctor,
      async () => {
        const doctor = ctx.provider.doctor;
        expect(
          typeof doctor,
          "doctor() is missing: operators need it to learn what this host lacks and how to fix it",
        ).toBe("function");
        const report = await doctor!.call(ctx.provider);
        expect(report.providerId).toBe(ctx.provider.id);
        const failed = report.checks.filter((c) => c.required && !c.ok).map((c) => c.id);
        expect(failed).toEqual([]);
        expect(report.ready).toBe(true);
      },
      ctx.ms(60_000),
    );
  });
}
