import type { PolicyIssue } from "@cadre/agent-runtime-contract";
import type { z } from "zod";

/**
 * Flattens zod issues into contract issues with JSON paths such as "isolation.docker.runtime".
 * An unknown key becomes one issue at its own path, so the path names the offending key.
 */
export function configIssues(error: z.ZodError, root: string): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        issues.push({ path: joinPath(root, [...issue.path, key]), message: "unknown key" });
      }
    } else {
      issues.push({ path: joinPath(root, issue.path), message: issue.message });
    }
  }
  return issues;
}

export function joinPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
