import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import { type Contender, execInOneSandbox } from "../contender.js";

/** cadre's provider (or a pool around it) doing what the baselines do. */
export function oursContender(provider: IsolationProvider, policy: IsolationPolicy): Contender {
  const lifecycle = {
    start: () => provider.startSession(policy),
    destroy: (id: string) => provider.destroySession(id),
  };
  const runTrue = async (id: string) => {
    const result = await provider.exec(id, ["true"]);
    if (result.exitCode !== 0) throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
  };
  return {
    name: "cadre",
    kind: "ours",
    lifecycle,
    firstExec: runTrue,
    exec: execInOneSandbox(lifecycle, runTrue),
  };
}
