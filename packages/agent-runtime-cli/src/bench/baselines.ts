import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import { UsageError } from "../cli/usage-error.js";
import type { BenchEngine } from "./contender.js";
import { containerdEngine } from "./targets/containerd.js";
import { dockerEngine } from "./targets/docker.js";
import { stubEngine } from "./targets/stub.js";

export interface BaselineInput {
  provider: IsolationProvider;
  policy: IsolationPolicy;
  runId: string;
  /** The provider's section of the config: the options it was created with. */
  options: Record<string, unknown>;
}

type Baseline = (input: BaselineInput) => Promise<BenchEngine>;

const string = (value: unknown): string | undefined =>
  typeof value === "string" ? value : undefined;

/**
 * The bare-engine baseline of each provider that has one, by provider id. They stay here, not in
 * the provider packages: they call the engine's client directly on purpose (dockerode, containerd's
 * gRPC API, the engines' CLIs), which inside a provider would go around its one client seam, and
 * cadre core must not install them.
 */
const baselines: Readonly<Record<string, Baseline>> = {
  stub: async ({ provider, policy, runId }) => stubEngine(provider, policy, runId),
  async docker({ provider, policy, runId, options }) {
    // The provider's own reading of socketPath, host and DOCKER_HOST.
    const { dockerConnection } = await import("@cadre/agent-runtime-provider-docker");
    const connection = dockerConnection(options);
    if (!("socketPath" in connection)) {
      throw new UsageError(
        "bench measures Docker over its unix socket; set socketPath (or a unix:// DOCKER_HOST), not a TCP host",
        "bench",
      );
    }
    return dockerEngine({
      provider,
      policy,
      runId,
      runtime: options.runtime === "runsc" || options.runtime === "crun" ? options.runtime : "runc",
      socketPath: connection.socketPath,
    });
  },
  async kata({ provider, policy, runId, options }) {
    const report = await provider.capabilities();
    return containerdEngine({
      provider,
      policy,
      runId,
      address:
        string(options.address) ??
        process.env.CONTAINERD_ADDRESS ??
        "/run/containerd/containerd.sock",
      namespace: string(options.namespace) ?? "cadre",
      label: /stand-in/.test(report.variant ?? "")
        ? "kata (stand-in shim, no VM)"
        : `kata (${report.variant ?? string(options.runtime) ?? "io.containerd.kata.v2"})`,
    });
  },
};

/** The baseline of provider `id`, or a usage error naming the providers that have one. */
export function benchBaseline(id: string): Baseline {
  const baseline = baselines[id];
  if (!baseline) {
    throw new UsageError(
      `bench has no baseline for the ${id} provider (it has: ${Object.keys(baselines).join(", ")})`,
      "bench",
    );
  }
  return baseline;
}
