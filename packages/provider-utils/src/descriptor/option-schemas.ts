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
