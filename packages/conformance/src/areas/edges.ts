import {
  type FieldCapability,
  type PolicyField,
  type ProviderUnavailableError,
  sizeLimits,
  utf8Bytes,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectEnded, expectErrorCode } from "../expect-error.js";
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

/** `sizeLimits.env.maxVariables` variables named PREFIX00000... filling exactly `totalBytes`. */
function envFilling(prefix: string, totalBytes: number): Record<string, string> {
  const count = sizeLimits.env.maxVariables;
  const each = Math.floor(totalBytes / count);
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => {
      const name = `${prefix}${String(i).padStart(5, "0")}`;
      // NAME=VALUE and its NUL; the last one takes what the division left over.
      const size = i === count - 1 ? totalBytes - each * (count - 1) : each;
      return [name, "v".repeat(size - name.length - 2)];
    }),
  );
}

/** Labels that bring `present` up to exactly the contract's count and bytes. */
function labelsFilling(present: Record<string, string>): Record<string, string> {
  const { maxLabels, maxTotalBytes, maxValueLength } = sizeLimits.labels;
  const used = Object.entries(present).reduce((n, [k, v]) => n + utf8Bytes(k) + utf8Bytes(v), 0);
  const count = maxLabels - Object.keys(present).length;
  let room = maxTotalBytes - used;
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const key = `edge-${String(i).padStart(2, "0")}`;
    const share = Math.floor(room / (count - i)) - key.length;
    // Two-byte characters, so that the limit is counted in bytes, not characters.
    const value = "é".repeat(Math.min(Math.floor(share / 2), maxValueLength));
    out[key] = share % 2 === 1 ? `${value}x` : value;
    room -= key.length + utf8Bytes(out[key]);
  }
  return out;
}

/** sh's argv: a script, its $0, then arguments filling exactly the contract's argv bytes. */
function argvFilling(script: string): string[] {
  const head = ["sh", "-c", script, "sh"];
  const bytes = (args: string[]) => args.reduce((n, a) => n + utf8Bytes(a) + 1, 0);
  const longest = "a".repeat(sizeLimits.maxStringBytes);
  const argv = [...head, longest];
  let room = sizeLimits.argv.maxTotalBytes - bytes(argv);
  while (room > 0) {
    const size = Math.min(room, 4096) - 1;
    argv.push("b".repeat(Math.max(size, 0)));
    room -= size + 1;
  }
  return argv;
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
      names.sizesAtLimits,
      async () => {
        const env = envFilling("P", sizeLimits.env.maxTotalBytes);
        const execEnv = envFilling("X", sizeLimits.env.maxTotalBytes);
        const labels = labelsFilling(ctx.policy().labels ?? {});
        const id = await ctx.start({ env, labels });
        // biome-ignore lint/suspicious/noTemplateCurlyInString: sh's parameter lengths
        const script = 'printf "%s %s %s %s" "$#" "${#1}" "${#P01023}" "${#X01023}"';
        const argv = argvFilling(script);
        const result = await ctx.provider.exec(id, argv, {
          env: execEnv,
          timeoutMs: ctx.ms(60_000),
        });
        expect(result.stderr).toBe("");
        expect(result.exitCode, "the exec at every size limit ran").toBe(0);
        const expected = [
          argv.length - 4,
          sizeLimits.maxStringBytes,
          (env.P01023 ?? "").length,
          (execEnv.X01023 ?? "").length,
        ].join(" ");
        expect(result.stdout, "argument count, lengths of $1, P01023 and X01023").toBe(expected);
        const info = await ctx.provider.getSession(id);
        expect(info.labels).toMatchObject(labels);
        expect(info.envNames).toEqual(Object.keys(env).sort());
        expect(await ctx.listedIds(labels)).toEqual([id]);
        await ctx.destroy(id);
      },
      ctx.ms(180_000),
    );

    it(
      names.sizesPastLimits,
      async () => {
        const env = envFilling("P", sizeLimits.env.maxTotalBytes);
        env.P00000 += "v";
        const labels = labelsFilling(ctx.policy().labels ?? {});
        const pastLabels = { ...labels, "edge-extra": "" };
        for (const [field, extra] of [
          ["env", { env }],
          ["labels", { labels: pastLabels }],
        ] as const) {
          const error = await expectErrorCode(ctx.start(extra), "POLICY_INVALID");
          expect(JSON.stringify(error), `the issue names ${field}`).toContain(`"${field}`);
        }
        const id = await ctx.start();
        const argv = argvFilling("true");
        argv[argv.length - 1] += "b";
        await expectErrorCode(ctx.provider.exec(id, argv), "POLICY_INVALID");
        await ctx.destroy(id);
      },
      ctx.ms(120_000),
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
        await expectEnded(ctx, id, { kind: "ttl", limit: 1 });
      },
      ctx.ms(60_000),
    );
  });
}
