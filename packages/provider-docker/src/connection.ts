import type { DockerProviderOptions } from "./options.js";

/** Where the daemon is: a Unix socket, or a host and port spoken to over plain HTTP. */
export type DockerConnection = { socketPath: string } | { host: string; port: number };

const defaultSocketPath = "/var/run/docker.sock";
const defaultTcpPort = 2375;

/**
 * Where to reach the daemon: the `socketPath` option, else `host` (and `port`), else DOCKER_HOST
 * (`unix:///path`, `tcp://host:port`), else the default socket. Every package of this repository
 * that reads DOCKER_HOST reads it through here.
 */
export function dockerConnection(
  options: Pick<DockerProviderOptions, "socketPath" | "host" | "port"> = {},
  env: NodeJS.ProcessEnv = process.env,
): DockerConnection {
  if (options.socketPath) return { socketPath: options.socketPath };
  if (options.host) return { host: options.host, port: options.port ?? defaultTcpPort };
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith("unix://")) {
    return { socketPath: dockerHost.slice("unix://".length) || defaultSocketPath };
  }
  if (dockerHost?.startsWith("tcp://") || dockerHost?.startsWith("http://")) {
    const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: Number(url.port || defaultTcpPort) };
  }
  return { socketPath: defaultSocketPath };
}

/** The daemon's address as messages show it. */
export function describeConnection(connection: DockerConnection): string {
  return "socketPath" in connection
    ? `unix://${connection.socketPath}`
    : `tcp://${connection.host}:${connection.port}`;
}
