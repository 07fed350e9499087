import { readFileSync } from "node:fs";
import type { DoctorCheck } from "@cadre/agent-runtime-contract";
import type Docker from "dockerode";
import { type DockerConnection, describeConnection } from "./connection.js";
import { connectionCheckId } from "./doctor-checks.js";
import { knownHostKey } from "./known-hosts.js";

/**
 * dockerode's constructor options for a connection, or the check that refuses it. dockerode
 * (docker-modem) does the TLS and the SSH itself: TLS through Node's https with the client
 * certificate and the CA given here, SSH through ssh2, running `docker system dial-stdio` on the
 * host. What it leaves to its caller is done here: reading the files (a missing one refuses the
 * connection, naming the file, never its content), and checking the SSH host's key against
 * known_hosts, which ssh2 does not do by itself. Every field of the address is set, because
 * docker-modem fills the ones left out from DOCKER_HOST.
 */
export function dockerodeOptions(
  connection: DockerConnection,
): { options: Docker.DockerOptions } | { refused: DoctorCheck } {
  const address = describeConnection(connection);
  const none = { host: undefined, port: undefined, ca: undefined, cert: undefined, key: undefined };
  if ("socketPath" in connection) {
    return { options: { ...none, socketPath: connection.socketPath, protocol: "http" } };
  }
  const { host, port } = connection;
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UnreadableFile(what, path, (error as NodeJS.ErrnoException).code ?? "unreadable");
    }
  };
  try {
    if ("tls" in connection) {
      const { ca, cert, key } = connection.tls;
      return {
        options: {
          ...none,
          host,
          port,
          protocol: "https",
          ca: read("the CA certificate", ca),
          cert: read("the client certificate", cert),
          key: read("the client key", key),
        },
      };
    }
    if ("ssh" in connection) {
      const { user, privateKey, knownHosts } = connection.ssh;
      const trusted = read("the known_hosts file", knownHosts).toString("utf8");
      const sshOptions: Record<string, unknown> = {
        hostVerifier: (key: Buffer) => knownHostKey(trusted, host, port, key) === "known",
        readyTimeout: 20_000,
      };
      if (privateKey) sshOptions.privateKey = read("the SSH private key", privateKey);
      else if (process.env.SSH_AUTH_SOCK) sshOptions.agent = process.env.SSH_AUTH_SOCK;
      else {
        return {
          refused: refusal(
            address,
            "no SSH key: neither ssh.privateKey nor an agent (SSH_AUTH_SOCK)",
            "set ssh.privateKey to the key file, or start ssh-agent and add the key",
          ),
        };
      }
      return {
        options: { ...none, host, port, protocol: "ssh", username: user, sshOptions },
      };
    }
  } catch (error) {
    if (!(error instanceof UnreadableFile)) throw error;
    return {
      refused: refusal(
        address,
        `cannot read ${error.what} at ${error.path} (${error.code})`,
        "point the option (or DOCKER_CERT_PATH) at a file this user can read",
      ),
    };
  }
  if (!connection.insecure) {
    return {
      refused: refusal(
        address,
        "plain TCP without TLS: anyone who can reach that port controls the daemon and reads every session's env",
        "use TLS (the tls option, or DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH) or ssh://; only where the network is trusted, set insecure: true",
      ),
    };
  }
  return { options: { ...none, host, port, protocol: "http" } };
}

class UnreadableFile extends Error {
  constructor(
    readonly what: string,
    readonly path: string,
    readonly code: string,
  ) {
    super(`cannot read ${what} at ${path}`);
  }
}

function refusal(address: string, problem: string, fix: string): DoctorCheck {
  return {
    id: connectionCheckId,
    title: "connection to the daemon is authenticated and encrypted",
    ok: false,
    required: true,
    detail: `${address}: ${problem}`,
    fix,
  };
}
