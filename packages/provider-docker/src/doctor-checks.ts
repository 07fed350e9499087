import type { DoctorCheck } from "@cadre/agent-runtime-contract";
import { agentBinaryFit } from "@cadre/agent-runtime-sandbox-agent";
import type { ConnectionKind, DockerConnection } from "./connection.js";
import { engineName, type HostFacts, runtimeRegistered } from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

export const connectionCheckId = "docker.connection";

const unreachableFix: Record<ConnectionKind, string> = {
  socket:
    "start the daemon (`systemctl start docker`, or `bash scripts/services.sh up` on a test host), or point DOCKER_HOST / the socketPath option at a running one",
  tls: "check that the daemon listens there with --tlsverify, that its certificate is signed by the tls.ca file and names the host, and that it accepts the client certificate",
  ssh: "check that the host's key is in the known_hosts file (ssh.knownHosts), that the user may log in with the key, and that the host has the docker command (`docker system dial-stdio`) with access to its daemon",
  plain: "start the daemon there, or point DOCKER_HOST / the host option at a running one",
};

/** The failed `docker.daemon` check: the daemon at `address` could not be reached. */
export function daemonCheck(
  address: string,
  problem: string,
  denied: boolean,
  kind: ConnectionKind = "socket",
): DoctorCheck {
  return {
    id: "docker.daemon",
    title: "Docker daemon reachable",
    ok: false,
    required: true,
    detail: `cannot connect to ${address}: ${problem}`,
    fix: denied
      ? "add this user to the docker group (or run as root), then log in again"
      : unreachableFix[kind],
  };
}

/**
 * How the connection to the daemon is secured. A Unix socket is as safe as its permissions; TLS
 * verifies the daemon and shows it a client certificate; SSH checks the host key. Plain TCP is
 * used only with `insecure: true`, and then this check fails (not required) and says so loudly.
 */
export function connectionCheck(connection: DockerConnection, address: string): DoctorCheck {
  const base = {
    id: connectionCheckId,
    title: "connection to the daemon is authenticated and encrypted",
    required: true,
  };
  if ("socketPath" in connection) {
    return { ...base, ok: true, detail: `${address}: a Unix socket on this machine` };
  }
  if ("tls" in connection) {
    const { ca, cert } = connection.tls;
    return {
      ...base,
      ok: true,
      detail: `${address}: TLS, the daemon verified against ${ca}, client certificate ${cert}`,
    };
  }
  if ("ssh" in connection) {
    return {
      ...base,
      ok: true,
      detail: `${address}: SSH as ${connection.ssh.user}, host key checked against ${connection.ssh.knownHosts}`,
    };
  }
  return {
    ...base,
    ok: false,
    required: false,
    detail: `INSECURE: ${address} is plain TCP without TLS (insecure: true). Anyone who can reach that port controls the daemon, and every session's env crosses the network in clear`,
    fix: "use TLS (the tls option, or DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH) or ssh://, and drop insecure",
  };
}

/** Which engine answers: Docker or Podman, its version, rootless or not. */
export function engineCheck(facts: HostFacts, address: string): DoctorCheck {
  return {
    id: "docker.engine",
    title: "container engine",
    ok: true,
    required: true,
    detail: `${address}: ${engineName(facts)} ${facts.serverVersion} (API ${facts.apiVersion}), ${facts.rootless ? "rootless" : "rootful"}, cgroup v${facts.cgroupVersion}`,
  };
}

const runtimeFixes: Record<DockerRuntime, string> = {
  runsc:
    'install gVisor (apt-get install runsc), add "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}} to /etc/docker/daemon.json and restart dockerd; or use runtime "runc"',
  crun: 'install crun (apt-get install crun), add "runtimes": {"crun": {"path": "/usr/bin/crun"}} to /etc/docker/daemon.json and restart dockerd; or use runtime "runc"',
  runc: "register runc with the daemon (it is the default runtime of a stock install)",
};

export function runtimeCheck(facts: HostFacts, runtime: DockerRuntime): DoctorCheck {
  const registered = runtimeRegistered(facts, runtime);
  const args = facts.runtimes[runtime]?.runtimeArgs?.join(" ");
  const check: DoctorCheck = {
    id: `docker.runtime.${runtime}`,
    title: `OCI runtime "${runtime}" registered with the daemon`,
    ok: registered,
    required: true,
    detail: registered
      ? `registered (${facts.runtimes[runtime]?.path ?? runtime}${args ? ` ${args}` : ""})`
      : `the daemon knows ${Object.keys(facts.runtimes).join(", ") || "no runtimes"}`,
    fix: runtimeFixes[runtime],
  };
  if (facts.engine === "podman") {
    // Podman's Docker-compatible API does not take HostConfig.Runtime: it runs its default.
    check.title = `OCI runtime "${runtime}" is the one Podman runs`;
    check.detail = registered
      ? `Podman's default runtime is ${facts.defaultRuntime}`
      : `Podman's Docker API runs every container with its default runtime, ${facts.defaultRuntime || "unknown"}, whatever HostConfig.Runtime says`;
    check.fix = `use runtime "${facts.defaultRuntime || "crun"}" with Podman, or change Podman's default (runtime in containers.conf's [engine])`;
  }
  return check;
}

export function imageCheck(image: string, present: boolean, detail?: string): DoctorCheck {
  return {
    id: "docker.image",
    title: `image ${image} present`,
    ok: present,
    required: true,
    detail: present
      ? "present in the daemon's image store"
      : (detail ?? "not in the daemon's image store"),
    fix: `load it with \`docker load -i <archive>.tar\` (on a test host \`bash scripts/services.sh up\` builds cadre-test/busybox:1), or \`docker pull ${image}\` where a registry is reachable`,
  };
}

/**
 * The cadre-agent binary every session runs as its PID 1: one for this host's architecture (null:
 * none), a static executable of this machine by its ELF header. A daemon on this machine mounts
 * it read-only; one elsewhere gets a copy through the Engine API (container-agent.ts).
 */
export function agentCheck(
  binary: string | null,
  local: boolean,
  architecture: string = process.arch,
): DoctorCheck {
  const fit = binary === null ? undefined : agentBinaryFit(binary, architecture);
  return {
    id: "docker.agent",
    title: "cadre-agent binary for this host (sessions' PID 1)",
    ok: fit?.fits === true,
    required: true,
    detail: fit
      ? `${fit.detail}; ${local ? "mounted read-only into each session" : "copied into each session through the Engine API (the daemon is not on this machine)"}`
      : `none for ${architecture} in @cadre/agent-runtime-sandbox-agent`,
    fix: "build @cadre/agent-runtime-sandbox-agent (needs Debian's musl-tools, and musl-dev of the other architecture it ships; scripts/services.sh up installs them)",
  };
}
