import type { ParsedIsolationConfig } from "../config/parse.js";
import { dockerContainersWithLabels } from "./docker-leftovers.js";
import { kataLeftovers } from "./kata-leftovers.js";
import { stubLeftovers } from "./stub-leftovers.js";

/** The suite's findBackendLeftovers for the configured provider: it reads the engine directly. */
export function backendLeftovers(
  config: ParsedIsolationConfig,
): (labels: Record<string, string>) => Promise<string[]> {
  switch (config.provider) {
    case "stub":
      return stubLeftovers(config.stub);
    case "docker":
      return (labels) => dockerContainersWithLabels(config.docker, labels);
    case "kata":
      return kataLeftovers(config.kata);
  }
}
