import type { DoctorCheck } from "@cadre/agent-runtime-contract";
import { agentBinaryFit } from "@cadre/agent-runtime-sandbox-agent";
import { type HostFacts, runtimeRegistered } from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

/** The failed `docker.daemon` check: the daemon at `address` could not be reached. */
export function daemonCheck(address: string, problem: string, denied: boolean): DoctorCheck {
  return {
    id: "docker.daemon",
    title: "Docker daemon reachable",
    ok: false,
    required: true,
    detail: `cannot connect to ${address}: ${problem}`,
    fix: denied
      ? "add this user to the docker group (or run as root), then log in again"
      : "start the daemon (`systemctl start docker`, or `bash scripts/services.sh up` on a test host), or point DOCKER_HOST / the socketPath option at a running one",
  };
}

export function runtimeCheck(facts: HostFacts, runtime: DockerRuntime): DoctorCheck {
  const registered = runtimeRegistered(facts, runtime);
  const args = facts.runtimes[runtime]?.runtimeArgs?.join(" ");
  return {
    id: `docker.runtime.${runtime}`,
    title: `OCI runtime "${runtime}" registered with the daemon`,
    ok: registered,
    required: true,
    detail: registered
      ? `registered (${facts.runtimes[runtime]?.path ?? runtime}${args ? ` ${args}` : ""})`
      : `the daemon knows ${Object.keys(facts.runtimes).join(", ") || "no runtimes"}`,
    fix:
      runtime === "runsc"
        ? 'install gVisor (apt-get install runsc), add "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}} to /etc/docker/daemon.json and restart dockerd; or use runtime "runc"'
        : "register runc with the daemon (it is the default runtime of a stock install)",
  };
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
 * The cadre-agent binary every session runs as its PID 1, mounted from this host: one for this
 * host's architecture (null: none), a static executable of this machine by its ELF header, and a
 * daemon on this machine (`local`: reached over its Unix socket), which can mount it.
 */
export function agentCheck(binary: string | null, local: boolean): DoctorCheck {
  const fit = binary === null ? undefined : agentBinaryFit(binary);
  const check: DoctorCheck = {
    id: "docker.agent",
    title: "cadre-agent binary for this host (sessions' PID 1)",
    ok: fit?.fits === true && local,
    required: true,
    detail: fit ? fit.detail : `none for ${process.arch} in @cadre/agent-runtime-sandbox-agent`,
    fix: "build @cadre/agent-runtime-sandbox-agent (needs Debian's musl-tools, and musl-dev of the other architecture it ships; scripts/services.sh up installs them)",
  };
  if (fit?.fits && !local) {
    check.detail = `${fit.detail}; but the daemon is reached over TCP, and the binary is mounted from this host's files, which a daemon elsewhere does not have`;
    check.fix =
      "reach a daemon on this machine over its Unix socket (socketPath or DOCKER_HOST=unix://...)";
  }
  return check;
}
