import type { z } from "zod";
import type { PolicyIssue } from "./errors.js";

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
