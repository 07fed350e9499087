import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { Contender } from "@cadre/agent-runtime-provider-utils";
import { sandboxContender } from "./contender.js";

/** cadre's provider (or a pool around it) doing what the baselines do. */
export function oursContender(provider: IsolationProvider, policy: IsolationPolicy): Contender {
  return sandboxContender({
    name: "cadre",
    kind: "ours",
    sandbox: {
      start: () => provider.startSession(policy),
      destroy: (id: string) => provider.destroySession(id),
    },
    runTrue: async (id: string) => {
      const result = await provider.exec(id, ["true"]);
      if (result.exitCode !== 0) {
        throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
      }
    },
  });
}
