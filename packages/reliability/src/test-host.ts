import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DockerConnection, dockerConnection } from "@cadre/agent-runtime-provider-docker";

/**
 * Where the engines of this host live (docs/test-services.md). Environment overrides match the
 * other packages' tests.
 */
export const testHost = {
  /** DOCKER_HOST, else the default socket. */
  docker: dockerConnection(),
  containerdAddress: process.env.CADRE_CONTAINERD_ADDRESS ?? "/run/cadre-test/containerd.sock",
  containerdNamespace: "cadre",
  dockerImage: "cadre-test/busybox:1",
  containerdImage: "docker.io/cadre-test/busybox:1",
  /** `docker save` archive of the test image, loaded into throwaway engines. */
  imageArchive: "/var/lib/cadre-test/busybox.tar",
  /** The stand-in Kata shim and the runsc wrapper for containerd. */
  shimDir: "/var/lib/cadre-test/shim-bin",
  /** FIFO directories of the sessions this package creates, apart from everyone else's. */
  fifoDir: "/run/cadre-test/reliability-fifo",
} as const;

/** Where a target's engine is; defaults are the shared test engines of this host. */
export interface TargetEndpoints {
  docker?: DockerConnection;
  containerdAddress?: string;
  containerdNamespace?: string;
  fifoDir?: string;
  /** The stub's state directory. Default: a directory under the OS temp dir. */
  stubStateDir?: string;
}

/**
 * Each provider's options for this host's test engines (where the engine is, the test image), by
 * provider id; a provider the host has no engine data for runs with its defaults.
 */
export function testEngineOptions(
  endpoints: TargetEndpoints = {},
): Readonly<Record<string, Readonly<Record<string, unknown>>>> {
  return {
    stub: { stateDir: endpoints.stubStateDir ?? join(tmpdir(), "cadre-reliability-stub") },
    docker: { ...(endpoints.docker ?? testHost.docker), image: testHost.dockerImage },
    kata: {
      address: endpoints.containerdAddress ?? testHost.containerdAddress,
      namespace: endpoints.containerdNamespace ?? testHost.containerdNamespace,
      image: testHost.containerdImage,
      fifoDir: endpoints.fifoDir ?? testHost.fifoDir,
      shimSearchPath: [testHost.shimDir],
    },
  };
}

/** One way this host runs a provider: a reliability target. */
export interface HostTarget {
  readonly provider: string;
  /**
   * What the soak's `--runtime` calls it; the target is named `<provider>-<variant>`. Absent: the
   * provider's only target here, named by its id.
   */
  readonly variant?: string;
  /**
   * The runtime, as `cadre-runtime --runtime` takes it: the provider's descriptor (runtimeOption)
   * says what options it stands for.
   */
  readonly runtime?: string;
  /** What only this host needs beyond the engine and the runtime. */
  readonly options?: Readonly<Record<string, unknown>>;
}

/**
 * The variants this host's engines offer, in the order the suites run them; the first of a
 * provider is the soak's default for it. containerd runs the same shims as provider-kata's own
 * tests: runc's under Kata's name (the stand-in, no VM), runc's, and runc's with gVisor's runsc.
 */
export const hostTargets: readonly HostTarget[] = [
  { provider: "docker", variant: "runc", runtime: "runc" },
  { provider: "docker", variant: "runsc", runtime: "runsc" },
  {
    provider: "kata",
    variant: "stand-in",
    runtime: "io.containerd.kata.v2",
    options: { unsafeUseStandInShim: true },
  },
  { provider: "kata", variant: "runc", runtime: "io.containerd.runc.v2" },
  {
    provider: "kata",
    variant: "runsc",
    runtime: "io.containerd.runc.v2",
    options: { runtimeOptions: { BinaryName: join(testHost.shimDir, "runsc-cadre") } },
  },
];
