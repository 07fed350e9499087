import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type { DockerProviderOptions } from "./options.js";

/** PEM files of a TLS connection with a client certificate: the daemon is verified against `ca`. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** An SSH login: `user` on the host, a key file or the agent, and the host keys to trust. */
export interface SshLogin {
  user: string;
  /** Without it, the agent at SSH_AUTH_SOCK. */
  privateKey?: string;
  knownHosts: string;
}

/**
 * Where the daemon is and how it is reached: its Unix socket; TLS with a client certificate;
 * SSH; or plain TCP, which is used only with `insecure: true` (and refused with `false`). Each
 * shape is also a set of the provider's options, so that it can be passed back as them.
 */
export type DockerConnection =
  | { socketPath: string }
  | { host: string; port: number; tls: TlsFiles }
  | { host: string; port: number; ssh: SshLogin }
  | { host: string; port: number; insecure: boolean };

type ConnectionOptions = Pick<
  DockerProviderOptions,
  "socketPath" | "host" | "port" | "tls" | "ssh" | "insecure"
>;

const defaultSocketPath = "/var/run/docker.sock";
const defaultPorts = { tls: 2376, ssh: 22, plain: 2375 } as const;

/**
 * Where to reach the daemon and how: the `socketPath` option, else `host` (with `port` and `tls`,
 * `ssh` or `insecure`), else DOCKER_HOST: `unix:///path`; `tcp://host:port`, with TLS when
 * DOCKER_TLS_VERIFY is set (DOCKER_CERT_PATH's ca.pem, cert.pem and key.pem, default ~/.docker)
 * or the `tls` option, else plain; `ssh://user@host:port`. Anything else means the default
 * socket. Every package of this repository that reads DOCKER_HOST and its companions reads them
 * through here.
 */
export function dockerConnection(
  options: ConnectionOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): DockerConnection {
  if (options.socketPath) return { socketPath: options.socketPath };
  if (options.host) return remote(options.host, options.port, undefined, options, env);
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith("unix://")) {
    return { socketPath: dockerHost.slice("unix://".length) || defaultSocketPath };
  }
  if (dockerHost && /^(tcp|http|ssh):\/\//.test(dockerHost)) {
    const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
    const scheme = url.protocol === "ssh:" ? "ssh" : "tcp";
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = url.port ? Number(url.port) : undefined;
    return remote(host, port, { scheme, user: decodeURIComponent(url.username) }, options, env);
  }
  return { socketPath: defaultSocketPath };
}

/** A remote daemon: TLS, SSH or plain TCP, from the options and then the environment. */
function remote(
  host: string,
  port: number | undefined,
  fromEnv: { scheme: "tcp" | "ssh"; user: string } | undefined,
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv,
): DockerConnection {
  if (options.ssh || fromEnv?.scheme === "ssh") {
    const ssh: SshLogin = {
      user: options.ssh?.user || fromEnv?.user || userInfo().username,
      knownHosts: options.ssh?.knownHosts ?? join(homedir(), ".ssh", "known_hosts"),
    };
    if (options.ssh?.privateKey) ssh.privateKey = options.ssh.privateKey;
    return { host, port: port ?? defaultPorts.ssh, ssh };
  }
  const tls = options.tls ?? (fromEnv ? tlsFromEnv(env) : undefined);
  if (tls) return { host, port: port ?? defaultPorts.tls, tls };
  return { host, port: port ?? defaultPorts.plain, insecure: options.insecure === true };
}

/** DOCKER_TLS_VERIFY's files, as the docker command line reads them; undefined without it. */
function tlsFromEnv(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const verify = env.DOCKER_TLS_VERIFY;
  if (!verify || verify === "0" || verify.toLowerCase() === "false") return undefined;
  const dir = env.DOCKER_CERT_PATH || join(homedir(), ".docker");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

/** How the connection is secured, for messages and doctor. */
export type ConnectionKind = "socket" | "tls" | "ssh" | "plain";

export function connectionKind(connection: DockerConnection): ConnectionKind {
  if ("socketPath" in connection) return "socket";
  if ("tls" in connection) return "tls";
  if ("ssh" in connection) return "ssh";
  return "plain";
}

/** The daemon's address as messages show it (no secret: file names and the user only). */
export function describeConnection(connection: DockerConnection): string {
  if ("socketPath" in connection) return `unix://${connection.socketPath}`;
  const host = connection.host.includes(":") ? `[${connection.host}]` : connection.host;
  if ("ssh" in connection) return `ssh://${connection.ssh.user}@${host}:${connection.port}`;
  return `tcp://${host}:${connection.port}${"tls" in connection ? " (TLS)" : " (plain TCP)"}`;
}
