import { maxSessionEndRetentionMs } from "@cadre/agent-runtime-contract";
import { z } from "zod";

/** No white space and no NUL: a name or reference that an engine takes verbatim. */
export function withoutWhiteSpace(value: string): boolean {
  return !/\s/.test(value) && !value.includes("\0");
}

/** An absolute host path, as provider options take them. */
export const absolutePathOption = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => p.startsWith("/") && !p.includes("\0"), { message: "must be an absolute path" });

/** An OCI image reference, e.g. "docker.io/library/busybox:1". */
export const imageReferenceOption = z
  .string()
  .min(1)
  .max(512)
  .refine(withoutWhiteSpace, { message: "must be an image reference without white space" });

/**
 * How long a removed session's end stays readable (getSession, listSessions with includeEnded):
 * the option every provider takes, for SessionLifecycle's config.
 */
export const sessionEndRetentionOption = z
  .number()
  .int()
  .min(0)
  .max(maxSessionEndRetentionMs)
  .describe("ms a removed session's end is kept for getSession; 0 keeps none (default an hour)");
