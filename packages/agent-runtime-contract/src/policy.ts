import { z } from "zod";
import { isolationLevelSchema } from "./isolation-level.js";
import {
  checkStringBytes,
  checkTotalBytes,
  envEntryBytes,
  labelBytes,
  sizeLimits,
} from "./size-limits.js";

/** Label keys under this prefix are written by providers; callers may not set them. */
export const reservedLabelPrefix = "cadre.agent-runtime/";

const noNul = (s: string) => !s.includes("\0");
const text = (max: number) =>
  z.string().max(max).refine(noNul, { message: "must not contain NUL bytes" });

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const labelKey = new RegExp(
  `^[A-Za-z0-9][A-Za-z0-9._/-]{0,${sizeLimits.labels.maxKeyLength - 1}}$`,
);
const userSpec = /^(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10})(?::(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10}))?$/;

const { env: envLimits, labels: labelLimits } = sizeLimits;

export const envSchema = z
  .record(
    z
      .string()
      .regex(envName, { message: "environment variable names are letters, digits and _" })
      .max(envLimits.maxNameLength),
    text(sizeLimits.maxStringBytes),
  )
  .superRefine((env, ctx) => {
    const entries = Object.entries(env);
    if (entries.length > envLimits.maxVariables) {
      ctx.addIssue({
        code: "custom",
        message: `${entries.length} variables, over the contract's ${envLimits.maxVariables}; pass the rest through a file`,
      });
    }
    for (const [name, value] of entries) {
      checkStringBytes(`${name}=${value}`, ctx, `${name}=VALUE`, [name]);
    }
    checkTotalBytes(entries, envEntryBytes, envLimits.maxTotalBytes, ctx, "the variables");
  });

export const labelsSchema = z
  .record(
    z
      .string()
      .regex(labelKey, {
        message: `label keys are 1-${labelLimits.maxKeyLength} of A-Z a-z 0-9 . _ / -`,
      })
      .refine((k) => !k.startsWith(reservedLabelPrefix), {
        message: `label keys starting with "${reservedLabelPrefix}" are reserved for providers`,
      }),
    text(labelLimits.maxValueLength),
  )
  .superRefine((labels, ctx) => {
    const entries = Object.entries(labels);
    if (entries.length > labelLimits.maxLabels) {
      ctx.addIssue({
        code: "custom",
        message: `${entries.length} labels, over the contract's ${labelLimits.maxLabels}; keep large data elsewhere and label it with a short reference`,
      });
    }
    checkTotalBytes(
      entries,
      labelBytes,
      labelLimits.maxTotalBytes,
      ctx,
      "the labels' keys and values",
    );
  });

export const absolutePathSchema = text(4096).refine(
  (p) => p.startsWith("/") && !p.split("/").includes(".."),
  { message: "must be an absolute path without .. segments" },
);

/**
 * The isolation a caller asks for. Unknown keys pass the schema on purpose: checkPolicy() turns
 * them into CAPABILITY_MISMATCH, so a caller learns that a field is not supported rather than
 * that it is malformed.
 */
export const isolationPolicySchema = z.looseObject({
  /** Hard memory limit in bytes; exceeding it kills the process, never the host. */
  memory: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  /** CPU quota in cores; fractions allowed. */
  cpu: z.number().positive().max(1024).optional(),
  /** true: no interface but loopback, nothing reachable. false asks for nothing. */
  networkIsolation: z.boolean().optional(),
  /** true: root filesystem read-only, with a writable scratch /tmp. false asks for nothing. */
  readOnlyRootfs: z.boolean().optional(),
  /** Most processes at once. */
  pids: z.number().int().positive().max(4_194_304).optional(),
  /** The weakest boundary the caller accepts. */
  minimumIsolation: isolationLevelSchema.optional(),
  image: text(512)
    .min(1)
    .refine((s) => !/\s/.test(s), { message: "must not contain white space" })
    .optional(),
  env: envSchema.optional(),
  workdir: absolutePathSchema.optional(),
  user: z
    .string()
    .regex(userSpec, { message: 'use "uid", "uid:gid", "name" or "name:group"' })
    .optional(),
  labels: labelsSchema.optional(),
  /** The session is destroyed this many milliseconds after it started. */
  ttlMs: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600 * 1000)
    .optional(),
});

export type IsolationPolicy = z.input<typeof isolationPolicySchema>;

/** Every field the contract knows, in a stable order. */
export const policyFields = [
  "memory",
  "cpu",
  "networkIsolation",
  "readOnlyRootfs",
  "pids",
  "minimumIsolation",
  "image",
  "env",
  "workdir",
  "user",
  "labels",
  "ttlMs",
] as const;
export type PolicyField = (typeof policyFields)[number];

export function isPolicyField(key: string): key is PolicyField {
  return (policyFields as readonly string[]).includes(key);
}

/** A policy that passed checkPolicy(): known fields only. */
export type ValidatedPolicy = Pick<z.output<typeof isolationPolicySchema>, PolicyField>;
