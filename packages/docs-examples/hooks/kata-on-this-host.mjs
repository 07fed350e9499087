// The Kata examples, on this host: Kata's VM cannot boot here (no /dev/vhost-vsock), so its
// provider runs the test services' containerd with the stand-in shim under Kata's runtime name
// (docs/test-services.md). The example's own options win; these fill in where it is silent.
import * as kata from "@cadre/agent-runtime-provider-kata";

export * from "@cadre/agent-runtime-provider-kata";

const thisHost = {
  address: process.env.CADRE_CONTAINERD_ADDRESS ?? "/run/cadre-test/containerd.sock",
  namespace: "cadre",
  fifoDir: "/run/cadre-test/kata-fifo",
  shimSearchPath: ["/var/lib/cadre-test/shim-bin"],
  runtime: "io.containerd.kata.v2",
  unsafeUseStandInShim: true,
};

export function createKataProvider(options = {}) {
  return kata.createKataProvider({ ...thisHost, ...options });
}
