import type { CapabilityReport, FieldCapability } from "@cadre/agent-runtime-contract";
import { podmanStaticRow, runsc, staticRow } from "./capability-rows.js";
import { enforcesCgroupLimits, type HostFacts, runscWithoutNetwork } from "./host-facts.js";
import type { DockerRuntime } from "./options.js";

/**
 * The capability report of one provider instance: its runtime's static row, narrowed to what this
 * daemon's cgroups can enforce. A field the host cannot enforce is not claimed.
 */
export function reportForHost(
  runtime: DockerRuntime,
  facts: HostFacts,
  { hostCgroups = true }: { hostCgroups?: boolean } = {},
): CapabilityReport {
  const limits = enforcesCgroupLimits(facts);
  const row = facts.engine === "podman" ? podmanStaticRow(limits) : staticRow(runtime);
  const policy = structuredClone(row.policy);
  const missing = (controller: string): FieldCapability => ({
    enforced: false,
    mechanism: `the daemon reports no ${controller} support (cgroup v${facts.cgroupVersion}); enable the controller in the kernel`,
  });

  if (!limits) {
    // A rootless engine on cgroup v1 (Docker's rootless mode too): no limit at all, whatever the
    // daemon's info says about the host's controllers.
    const none = (what: string): FieldCapability => ({
      enforced: false,
      mechanism: `not enforced: the ${facts.engine} engine runs rootless on cgroup v${facts.cgroupVersion}, where it gets no cgroup of its own and ignores ${what}`,
    });
    if (facts.engine !== "podman") {
      policy.memory = none("memory limits");
      policy.cpu = none("CPU quotas");
      policy.pids = none("pids limits");
    }
    const { pids: _pids, ...rest } = row.defaults;
    // Nor any count of what a session uses: the engine's stats read zero CPU and the host's memory.
    return { ...row, policy, defaults: rest, features: { ...row.features, usage: false } };
  }
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
  if (runtime !== "runsc" && !facts.pidsLimit) {
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
  if (!hostCgroups) {
    // The kernel's OOM and refused-fork counters are on the daemon's machine. gVisor's memory kill
    // takes the whole sandbox, which the engine itself reports.
    if (policy.pids.enforced) policy.pids = { ...policy.pids, reportsCause: false };
    if (policy.memory.enforced && runtime !== "runsc") {
      policy.memory = { ...policy.memory, reportsCause: false };
    }
  }
  return { ...row, policy, defaults };
}
