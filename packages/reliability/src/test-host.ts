import { dockerConnection } from "@cadre/agent-runtime-provider-docker";

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
