import {
  type DoctorCheck,
  type DoctorReport,
  doctorReport,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import type { DockerConnection } from "./connection.js";
import type { DockerClient } from "./docker-client.js";
import {
  connectionCheck,
  daemonCheck,
  engineCheck,
  imageCheck,
  runtimeCheck,
} from "./doctor-checks.js";
import {
  enforcesCgroupLimits,
  engineName,
  type HostFacts,
  runscWithoutNetwork,
} from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

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
  if (!enforcesCgroupLimits(facts)) {
    return [
      {
        id: "docker.cgroup.rootless",
        title: "cgroup limits under a rootless engine",
        ok: false,
        required: false,
        detail: `${engineName(facts)} runs rootless on cgroup v${facts.cgroupVersion}: it gets no cgroup of its own, so policy.memory, cpu and pids are not offered`,
        fix: "run the engine rootful, or rootless on cgroup v2 with the memory, cpu and pids controllers delegated to its user (systemd's Delegate=)",
      },
    ];
  }
  const checks = [
    controller("memory", "cgroup memory limit", facts.memoryLimit, "memory"),
    controller("swap", "cgroup swap accounting", facts.swapLimit, "memory (swap equal to memory)"),
    controller("cpu", "CFS CPU quota", facts.cpuCfsQuota, "cpu"),
  ];
  if (runtime !== "runsc")
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
  client: DockerClient;
  connection: DockerConnection;
  runtime: DockerRuntime;
  image: string;
  /** The session network's check; undefined when no session of this provider joins it. */
  network: (facts: HostFacts) => Promise<DoctorCheck | undefined>;
  /** The check of the agent binary for the daemon's machine. */
  agent: (facts: HostFacts) => DoctorCheck;
  /** The check of the sessions' seccomp profile where the provider replaces the engine's. */
  seccomp: (facts: HostFacts) => DoctorCheck | undefined;
}): Promise<DoctorReport> {
  const { client } = input;
  // The connection's security first: a refused connection makes no call at all.
  const connection = client.refused ?? connectionCheck(input.connection, client.address);
  let facts: HostFacts;
  try {
    facts = await client.hostFacts();
  } catch (error) {
    const failed = ProviderUnavailableError.isInstance(error)
      ? error.checks.filter((c) => c.id !== connection.id)
      : [daemonCheck(client.address, (error as Error).message, false, client.kind)];
    return doctorReport(client.providerId, [connection, ...failed]);
  }
  const checks: DoctorCheck[] = [
    connection,
    {
      id: "docker.daemon",
      title: "Docker daemon reachable",
      ok: true,
      required: true,
      detail: `${client.address}: ${engineName(facts)} ${facts.serverVersion}, API ${facts.apiVersion}`,
    },
    engineCheck(facts, client.address),
    runtimeCheck(facts, input.runtime),
  ];
  checks.push(input.agent(facts));
  const seccomp = input.seccomp(facts);
  if (seccomp) checks.push(seccomp);
  const image = await client.imageStatus(input.image);
  checks.push(imageCheck(input.image, image.present, image.detail));
  checks.push(...cgroupChecks(facts, input.runtime));
  const network = await input.network(facts);
  if (network) checks.push(network);
  return doctorReport(client.providerId, checks);
}
