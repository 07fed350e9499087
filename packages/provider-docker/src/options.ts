import type { SessionNetworkOptions } from "./session-network.js";

export type DockerRuntime = "runc" | "runsc";

export interface DockerProviderOptions {
  /** Unix socket of the daemon. Default: DOCKER_HOST when set, else /var/run/docker.sock. */
  socketPath?: string;
  /** TCP host of the daemon (plain HTTP), with `port`. Ignored when socketPath is set. */
  host?: string;
  port?: number;
  /** OCI runtime registered with the daemon: "runc" (default, a container) or "runsc" (gVisor). */
  runtime?: DockerRuntime;
  /** Image of sessions whose policy names none. Default "cadre-test/busybox:1". */
  image?: string;
  /**
   * Prefix of the labels the provider writes on its containers, in place of the contract's
   * "cadre.agent-runtime/". Two deployments with different prefixes never see each other's
   * sessions on one daemon.
   */
  labelPrefix?: string;
  /**
   * The network of sessions without networkIsolation: a bridge of the provider's own where they
   * cannot reach each other, the host or 169.254.0.0/16 (docs/providers/docker.md, "Network").
   */
  sessionNetwork?: SessionNetworkOptions;
}

export const defaultImage = "cadre-test/busybox:1";
