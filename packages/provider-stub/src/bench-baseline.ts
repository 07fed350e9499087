import type { BenchBaselineInput, BenchEngine } from "@cadre/agent-runtime-provider-utils";

/**
 * `cadre-runtime bench`'s baseline for the stub: what it wraps, a plain host process and a
 * scratch directory (the bench's own host-process contender). It has no CLI baseline, no engine
 * targets (the issue's are for engines, and a host process is not one) and no idle memory (a
 * stub session is host processes with no cgroup of their own to read), and no files baseline.
 */
export async function stubBenchBaseline({
  provider,
  labels,
  tools,
}: BenchBaselineInput): Promise<BenchEngine> {
  return {
    label: "stub",
    baselines: [tools.hostProcessContender()],
    filesNote:
      "a stub session's files are host files in its scratch directory: no engine copy API to compare with",
    async cleanup() {
      const left = await provider.listSessions({ labels: { ...labels } });
      await Promise.allSettled(left.map((s) => provider.destroySession(s.id)));
      return left.length;
    },
    async close() {},
  };
}
