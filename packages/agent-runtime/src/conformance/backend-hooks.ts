import type { ConformanceOptions, ForeignObject } from "@cadre/agent-runtime-conformance";
import type { ParsedIsolationConfig } from "../config/parse.js";
import { dockerBackend } from "./docker-backend.js";
import { kataBackend } from "./kata-backend.js";
import { stubBackend } from "./stub-backend.js";

export type { ForeignObject };

/** The suite's hooks that read and write the engine directly, never through the provider. */
export type BackendHooks = Pick<
  ConformanceOptions,
  "findBackendLeftovers" | "readBackendLabels" | "plantForeignObjects"
>;

/** The backend hooks for the configured provider. */
export function backendHooks(
  config: ParsedIsolationConfig,
  image: string | undefined,
): BackendHooks {
  switch (config.provider) {
    case "stub":
      return stubBackend(config.stub);
    case "docker":
      return dockerBackend(config.docker, image ?? "busybox");
    case "kata":
      return kataBackend(config.kata);
  }
}
