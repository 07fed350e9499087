// The module the conformance suite imports in a child process that it then kills with SIGKILL,
// to prove that reap() removes the session of an owner that died. Builds the same provider.

import { createProvider } from "@cadre/agent-runtime";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { readConformanceSettings } from "./settings.js";

export default function buildProvider(): Promise<IsolationProvider> {
  return createProvider(readConformanceSettings().config);
}
