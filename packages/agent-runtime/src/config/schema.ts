import { z } from "zod";

export const poolConfigSchema = z
  .strictObject({
    size: z.number().int().min(1).max(64).describe("Warm sessions kept per policy."),
    maxPolicies: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        "Distinct policies kept warm; the least recently used is dropped beyond. Default 4.",
      ),
  })
  .describe(
    "Keep started sessions warm (a `SessionPool` around the provider) so that `startSession` hands one out at once. See docs/session-pool.md.",
  );

export const isolationConfigDescription =
  "The `isolation` section of cadre.config.json: which provider runs sessions, and its options. Sections of providers other than `provider` are validated when their package is installed, and otherwise ignored.";

/**
 * The generic shape of the `isolation` section: a known provider id, the pool, and one object
 * per provider, under its id. Each section's contents are its provider's to judge (section.ts),
 * through the schema of its descriptor; `sections` puts those schemas in, for the generated doc.
 */
export function isolationShapeSchema(
  ids: readonly string[],
  sections: Readonly<Record<string, z.ZodType>> = {},
) {
  const anySection = z.record(z.string(), z.unknown());
  return z
    .strictObject({
      provider: z.enum(ids as [string, ...string[]]).describe("The provider cadre uses."),
      ...Object.fromEntries(ids.map((id) => [id, (sections[id] ?? anySection).optional()])),
      pool: poolConfigSchema.optional(),
    })
    .describe(isolationConfigDescription);
}

/** The `pool` section: keep sessions warm per policy. */
export type PoolConfig = z.input<typeof poolConfigSchema>;

/**
 * The `isolation` section as createProvider and loadConfig take it: `provider`, the optional
 * `pool`, and under each provider's id its options (its package's `optionsSchema`).
 */
export interface IsolationConfig {
  provider: string;
  pool?: PoolConfig | undefined;
  [section: string]: unknown;
}

/** A validated `isolation` section: each provider's section holds what its schema produced. */
export interface ParsedIsolationConfig extends IsolationConfig {
  pool?: z.output<typeof poolConfigSchema> | undefined;
}
