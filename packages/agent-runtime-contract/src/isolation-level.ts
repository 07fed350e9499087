import { z } from "zod";

/** Weakest to strongest boundary between a session and the host. */
export const isolationLevels = ["none", "container", "user-kernel", "vm"] as const;
export type IsolationLevel = (typeof isolationLevels)[number];
export const isolationLevelSchema = z.enum(isolationLevels);

/** True when `actual` is at least as strong as `required`. */
export function isolationSatisfies(actual: IsolationLevel, required: IsolationLevel): boolean {
  return isolationLevels.indexOf(actual) >= isolationLevels.indexOf(required);
}
