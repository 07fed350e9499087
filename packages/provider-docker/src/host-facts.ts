import type { DockerRuntime } from "./options.js";

/** The parts of `GET /info` and `GET /version` the provider decides on. */
export interface HostFacts {
  serverVersion: string;
  apiVersion: string;
  runtimes: Record<string, { path?: string; runtimeArgs?: string[] }>;
  memoryLimit: boolean;
  swapLimit: boolean;
  cpuCfsQuota: boolean;
  cpuset: boolean;
  pidsLimit: boolean;
  cgroupVersion: string;
  /** "cgroupfs" or "systemd": where the daemon puts a container's cgroup. */
  cgroupDriver: string;
  cpus: number;
  initBinary: string | undefined;
}

/** Reads the facts out of the daemon's info document (field names of the Engine API). */
export function hostFactsFromInfo(info: Record<string, unknown>, apiVersion: string): HostFacts {
  const flag = (name: string) => info[name] === true;
  return {
    serverVersion: String(info.ServerVersion ?? "unknown"),
    apiVersion,
    runtimes: (info.Runtimes ?? {}) as HostFacts["runtimes"],
    memoryLimit: flag("MemoryLimit"),
    swapLimit: flag("SwapLimit"),
    cpuCfsQuota: flag("CpuCfsQuota") && flag("CpuCfsPeriod"),
    cpuset: flag("CPUSet"),
    pidsLimit: flag("PidsLimit"),
    cgroupVersion: String(info.CgroupVersion ?? "1"),
    cgroupDriver: String(info.CgroupDriver ?? "cgroupfs"),
    cpus: Number(info.NCPU ?? 0),
    initBinary:
      typeof info.InitBinary === "string" && info.InitBinary ? info.InitBinary : undefined,
  };
}

export function runtimeRegistered(facts: HostFacts, runtime: DockerRuntime): boolean {
  return Object.hasOwn(facts.runtimes, runtime);
}

/** True when the daemon starts runsc with its own network off, so every sandbox has loopback only. */
export function runscWithoutNetwork(facts: HostFacts): boolean {
  return facts.runtimes.runsc?.runtimeArgs?.includes("--network=none") === true;
}
