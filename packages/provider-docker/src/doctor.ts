import {
  type DoctorCheck,
  type DoctorReport,
  doctorReport,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import type { DockerClient } from "./docker-client.js";
import { agentCheck, daemonCheck, imageCheck, runtimeCheck } from "./doctor-checks.js";
import { type HostFacts, runscWithoutNetwork } from "./host-facts.js";
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
  client: DockerClient;
  runtime: DockerRuntime;
  image: string;
  /** The session network's check; undefined when no session of this provider joins it. */
  network: (facts: HostFacts) => Promise<DoctorCheck | undefined>;
  /** The agent binary found for this host, or null when there is none. */
  agentBinary: string | null;
}): Promise<DoctorReport> {
  const { client } = input;
  let facts: HostFacts;
  try {
    facts = await client.hostFacts();
  } catch (error) {
    const checks = ProviderUnavailableError.isInstance(error)
      ? error.checks
      : [daemonCheck(client.address, (error as Error).message, false)];
    return doctorReport(client.providerId, checks);
  }
  const checks: DoctorCheck[] = [
    {
      id: "docker.daemon",
      title: "Docker daemon reachable",
      ok: true,
      required: true,
      detail: `${client.address}: Docker ${facts.serverVersion}, API ${facts.apiVersion}`,
    },
    runtimeCheck(facts, input.runtime),
  ];
  checks.push(agentCheck(input.agentBinary, client.local));
  const image = await client.imageStatus(input.image);
  checks.push(imageCheck(input.image, image.present, image.detail));
  checks.push(...cgroupChecks(facts, input.runtime));
  const network = await input.network(facts);
  if (network) checks.push(network);
  return doctorReport(client.providerId, checks);
}
