import type { EngineUnderTest } from "./engine-conformance.js";

/**
 * The engines scripts/services.sh starts besides the default Docker daemon
 * (docs/test-services.md): Podman's Docker-compatible API as root and as the rootless test user.
 * Environment overrides: CADRE_PODMAN_SOCKET, CADRE_PODMAN_ROOTLESS_SOCKET.
 */
export const podmanRootful: EngineUnderTest = {
  name: "podman",
  options: {
    socketPath: process.env.CADRE_PODMAN_SOCKET ?? "/run/cadre-test/podman/podman.sock",
    // The only runtime Podman's Docker API runs (its default).
    runtime: "crun",
  },
};

export const podmanRootless: EngineUnderTest = {
  name: "podman rootless",
  options: {
    socketPath:
      process.env.CADRE_PODMAN_ROOTLESS_SOCKET ?? "/run/cadre-test/podman-rootless/podman.sock",
    runtime: "crun",
  },
};
