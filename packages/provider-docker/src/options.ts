import type { DockerOptions } from "dockerode";
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
export const defaultSocketPath = "/var/run/docker.sock";

/** Where to reach the daemon: explicit options first, then DOCKER_HOST, then the default socket. */
export function connectionOptions(
  options: DockerProviderOptions,
  env: NodeJS.ProcessEnv = process.env,
): DockerOptions {
  if (options.socketPath) return { socketPath: options.socketPath };
  if (options.host) return { host: options.host, port: options.port ?? 2375, protocol: "http" };
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith("unix://")) {
    return { socketPath: dockerHost.slice("unix://".length) || defaultSocketPath };
  }
  if (dockerHost?.startsWith("tcp://") || dockerHost?.startsWith("http://")) {
    const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: Number(url.port || 2375), protocol: "http" };
  }
  return { socketPath: defaultSocketPath };
}

/** A human-readable address for messages. */
export function describeConnection(connection: DockerOptions): string {
  return connection.socketPath
    ? `unix://${String(connection.socketPath)}`
    : `tcp://${connection.host}:${connection.port}`;
}
