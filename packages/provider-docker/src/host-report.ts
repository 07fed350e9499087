import type { CapabilityReport, FieldCapability } from "@cadre/agent-runtime-contract";
import { runsc, staticRow } from "./capability-rows.js";
import { type HostFacts, runscWithoutNetwork } from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

/**
 * The capability report of one provider instance: its runtime's static row, narrowed to what this
 * daemon's cgroups can enforce. A field the host cannot enforce is not claimed.
 */
export function reportForHost(runtime: DockerRuntime, facts: HostFacts): CapabilityReport {
  const row = staticRow(runtime);
  const policy = structuredClone(row.policy);
  const missing = (controller: string): FieldCapability => ({
    enforced: false,
    mechanism: `the daemon reports no ${controller} support (cgroup v${facts.cgroupVersion}); enable the controller in the kernel`,
  });

  if (!facts.memoryLimit) policy.memory = missing("memory limit");
  else if (!facts.swapLimit) {
    policy.memory = {
      ...policy.memory,
      mechanism: `${policy.memory.mechanism}; swap is not accounted on this host (boot with swapaccount=1), so a process may swap instead of being killed`,
    };
  }
  if (!facts.cpuCfsQuota) policy.cpu = missing("CFS quota");
  else if (runtime === "runsc" && !facts.cpuset)
    policy.cpu = missing("cpuset (gVisor sizes its CPUs by it)");
  else if (facts.cpus > 0)
    policy.cpu = { ...policy.cpu, limits: { ...policy.cpu.limits, max: facts.cpus } };
  const defaults = { ...row.defaults };
  if (runtime === "runc" && !facts.pidsLimit) {
    policy.pids = missing("pids limit");
    delete defaults.pids;
  }
  if (runtime === "runsc") {
    policy.pids = { enforced: false, mechanism: runsc.pidsReason };
    if (!runscWithoutNetwork(facts)) {
      policy.networkIsolation = {
        enforced: true,
        mechanism: 'NetworkMode "none" in the gVisor sandbox: loopback only',
      };
      defaults.network = "private";
    }
  }
  return { ...row, policy, defaults };
}
