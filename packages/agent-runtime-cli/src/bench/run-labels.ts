import { randomUUID } from "node:crypto";

/** Every sandbox a bench run creates (ours and baselines) carries this label, for cleanup. */
export const benchRunLabel = "cadre.bench/run";

export function newBenchRunId(): string {
  return randomUUID().slice(0, 13);
}
