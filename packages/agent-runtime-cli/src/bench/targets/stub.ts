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
    ratioTargetsApply: false,
    async idleMemory(ids) {
      return {
        method:
          "the stub keeps no process for an idle session, only a record and a scratch directory on disk",
        bytesPerSession: 0,
        samples: ids.length,
      };
    },
    async cleanup() {
      const left = await provider.listSessions({ labels: { [benchRunLabel]: runId } });
      await Promise.allSettled(left.map((s) => provider.destroySession(s.id)));
      return left.length;
    },
    async close() {},
  };
}
