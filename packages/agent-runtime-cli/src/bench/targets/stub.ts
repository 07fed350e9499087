import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { BenchEngine } from "../contender.js";
import { benchRunLabel } from "../run-labels.js";
import { hostSpawnContender } from "./host-spawn.js";
import { oursContender } from "./ours.js";

/** The stub against what it wraps: a host process. It has no CLI baseline. */
export function stubEngine(
  provider: IsolationProvider,
  policy: IsolationPolicy,
  runId: string,
): BenchEngine {
  return {
    label: "stub",
    contenders: [oursContender(provider, policy), hostSpawnContender()],
    // No targets: the are for engines, and a host process is not one. No idle memory:
    // a stub session is host processes with no cgroup of their own to read.
    async cleanup() {
      const left = await provider.listSessions({ labels: { [benchRunLabel]: runId } });
      await Promise.allSettled(left.map((s) => provider.destroySession(s.id)));
      return left.length;
    },
    async close() {},
  };
}
