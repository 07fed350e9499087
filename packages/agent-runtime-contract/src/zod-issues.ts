import { z } from "zod";
import type { PolicyIssue } from "./errors.js";

/**
 * `schema.safeParse(value)`, except that a throw while reading the value is a failed parse too,
 * so bad input always ends in a typed error. zod 4 compares `.length` of any object that has
 * one against a string's or array's bounds, which throws for some values (`{ length: [x] }`
 * with a prototype-less `x`); a getter may throw as well.
 */
export function safeParseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
): z.ZodSafeParseResult<z.output<S>> {
  try {
    return schema.safeParse(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "unreadable value";
    const issue = {
      code: "custom" as const,
      path: [],
      input: value,
      message: `cannot be read (${reason}); pass plain strings, numbers, booleans, arrays and objects`,
    };
    return { success: false, error: new z.ZodError([issue]) as z.ZodError<z.output<S>> };
  }
}

/** Flattens a zod error into the contract's issues, with paths like "env.PATH" or "argv[2]". */
export function toPolicyIssues(error: z.ZodError | undefined, root = ""): PolicyIssue[] {
  if (!error) return [];
  return error.issues.map((issue) => ({
    path: formatPath(root, issue.path),
    message: issue.message,
  }));
}

function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
