import { randomBytes } from "node:crypto";

/** A well-formed session id that no provider made: the name of a planted object. */
export function foreignSessionId(): string {
  return `cadre-${randomBytes(8).toString("hex")}`;
}

/** Whether an engine still holds exactly the labels an object was planted with (any order). */
export function sameLabels(
  actual: Record<string, string> | null | undefined,
  planted: Record<string, string>,
): boolean {
  const sorted = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());
  return actual !== null && actual !== undefined && sorted(actual) === sorted(planted);
}
