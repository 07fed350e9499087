import { type DoctorCheck, type DoctorReport, doctorReport } from "@cadre/agent-runtime-contract";
import type Docker from "dockerode";
import { daemonCheck, daemonMessage, statusOf } from "./docker-errors.js";
import { type HostFacts, runscWithoutNetwork, runtimeRegistered } from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

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

function cgroupChecks(facts: HostFacts, runtime: DockerRuntime): DoctorCheck[] {
  const controller = (id: string, title: string, ok: boolean, field: string): DoctorCheck => ({
    id: `docker.cgroup.${id}`,
    title,
    ok,
    required: false,
    detail: ok
      ? `available (cgroup v${facts.cgroupVersion})`
      : `missing (cgroup v${facts.cgroupVersion}): policy.${field} is not offered`,
    fix: "enable the controller in the kernel command line (e.g. cgroup_enable=memory swapaccount=1) and reboot",
  });
  const checks = [
    controller("memory", "cgroup memory limit", facts.memoryLimit, "memory"),
    controller("swap", "cgroup swap accounting", facts.swapLimit, "memory (swap equal to memory)"),
    controller("cpu", "CFS CPU quota", facts.cpuCfsQuota, "cpu"),
  ];
  if (runtime === "runc")
    checks.push(controller("pids", "cgroup pids limit", facts.pidsLimit, "pids"));
  if (runtime === "runsc") {
    checks.push({
      id: "docker.runsc.network",
      title: "gVisor started with --network=none",
      ok: true,
      required: false,
      detail: runscWithoutNetwork(facts)
        ? "yes: every runsc sandbox has loopback only, whatever networkIsolation says"
        : "no: sandboxes get Docker's network unless networkIsolation is true",
    });
  }
  return checks;
}

export async function runDoctor(input: {
  docker: Docker;
  address: string;
  runtime: DockerRuntime;
  image: string;
  providerId: string;
  facts: () => Promise<HostFacts>;
  /** The session network's check; undefined when no session of this provider joins it. */
  network: (facts: HostFacts) => Promise<DoctorCheck | undefined>;
}): Promise<DoctorReport> {
  let facts: HostFacts;
  try {
    facts = await input.facts();
  } catch (error) {
    return doctorReport(input.providerId, [daemonCheck(input.address, error)]);
  }
  const checks: DoctorCheck[] = [
    {
      id: "docker.daemon",
      title: "Docker daemon reachable",
      ok: true,
      required: true,
      detail: `${input.address}: Docker ${facts.serverVersion}, API ${facts.apiVersion}`,
    },
    runtimeCheck(facts, input.runtime),
    {
      id: "docker.init",
      title: "init process for sessions",
      ok: facts.initBinary !== undefined,
      required: true,
      detail: facts.initBinary ? `${facts.initBinary}` : "the daemon reports no init binary",
      fix: "install tini (docker-init) for the daemon, or set init-path in daemon.json",
    },
  ];
  try {
    await input.docker.getImage(input.image).inspect();
    checks.push(imageCheck(input.image, true));
  } catch (error) {
    checks.push(
      imageCheck(input.image, false, statusOf(error) === 404 ? undefined : daemonMessage(error)),
    );
  }
  checks.push(...cgroupChecks(facts, input.runtime));
  const network = await input.network(facts);
  if (network) checks.push(network);
  return doctorReport(input.providerId, checks);
}
