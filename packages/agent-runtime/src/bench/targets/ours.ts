import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { Contender } from "../contender.js";

/** cadre's provider (or a pool around it) doing what the baselines do. */
export function oursContender(provider: IsolationProvider, policy: IsolationPolicy): Contender {
  let execSession: string | undefined;
  return {
    name: "cadre",
    kind: "ours",
    lifecycle: {
      start: () => provider.startSession(policy),
      destroy: (id) => provider.destroySession(id),
    },
    exec: {
      async setup() {
        execSession = await provider.startSession(policy);
      },
      async run() {
        const result = await provider.exec(execSession!, ["true"]);
        if (result.exitCode !== 0)
          throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
      },
      async teardown() {
        if (execSession) await provider.destroySession(execSession);
        execSession = undefined;
      },
    },
  };
}
