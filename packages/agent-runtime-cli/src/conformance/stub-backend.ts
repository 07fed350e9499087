import type { StubConfig } from "@cadre/agent-runtime";
import { defaultStateDir, StubBackend } from "@cadre/agent-runtime-provider-stub";
import type { BackendHooks } from "./backend-hooks.js";

/** The stub's state directory and processes, read and written by the stub package's StubBackend. */
export function stubBackend(stub: StubConfig | undefined): BackendHooks {
  const backend = new StubBackend(stub?.stateDir ?? defaultStateDir());
  return {
    findBackendLeftovers: backend.findLeftovers,
    readBackendLabels: backend.readLabels,
    plantForeignObjects: backend.plantForeignObjects,
  };
}
