import { randomBytes } from "node:crypto";

/** containerd exec ids are identifiers: letters, digits and single separators. */
export function newExecId(): string {
  return `x${randomBytes(8).toString("hex")}`;
}
