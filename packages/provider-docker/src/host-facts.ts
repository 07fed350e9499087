import type { DockerRuntime } from "./options.js";

/** The parts of `GET /info` and `GET /version` the provider decides on. */
export interface HostFacts {
  /** Docker Engine, or Podman's Docker-compatible API (`podman system service`). */
  engine: "docker" | "podman";
  /** The engine runs as an unprivileged user (SecurityOptions "name=rootless"). */
  rootless: boolean;
  /** The runtime of containers that name none; the only one Podman's Docker API runs. */
  defaultRuntime: string;
  /** The daemon's machine, as uname says it ("x86_64", "aarch64"). */
  architecture: string;
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

/**
 * Reads the facts out of the daemon's info and version documents (field names of the Engine
 * API). Podman names itself in the version's Components ("Podman Engine").
 */
export function hostFactsFromInfo(
  info: Record<string, unknown>,
  version: Record<string, unknown>,
): HostFacts {
  const flag = (name: string) => info[name] === true;
  const components = Array.isArray(version.Components) ? version.Components : [];
  const podman = components.some((c) => /podman/i.test(String((c as { Name?: unknown }).Name)));
  const securityOptions = Array.isArray(info.SecurityOptions) ? info.SecurityOptions : [];
  return {
    engine: podman ? "podman" : "docker",
    rootless: securityOptions.some((o) => String(o) === "name=rootless"),
    defaultRuntime: String(info.DefaultRuntime ?? "runc"),
    architecture: String(info.Architecture ?? "unknown"),
    serverVersion: String(info.ServerVersion ?? "unknown"),
    apiVersion: String(version.ApiVersion ?? "unknown"),
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

/**
 * Whether containers of `runtime` run on this daemon. Podman's Docker API runs every container
 * with its default runtime whatever the request says (4.3.1), so there only that one counts.
 */
export function runtimeRegistered(facts: HostFacts, runtime: DockerRuntime): boolean {
  if (facts.engine === "podman") return facts.defaultRuntime === runtime;
  return Object.hasOwn(facts.runtimes, runtime);
}

/** "Docker" or "Podman", for messages. */
export function engineName(facts: Pick<HostFacts, "engine">): string {
  return facts.engine === "podman" ? "Podman" : "Docker";
}

/**
 * Whether the engine can put a session in cgroups of its own: not rootless Podman on cgroup v1,
 * where an unprivileged user gets no cgroup and Podman ignores every limit with a warning.
 */
export function enforcesCgroupLimits(facts: HostFacts): boolean {
  return !(facts.rootless && facts.cgroupVersion !== "2");
}

/** True when the daemon starts runsc with its own network off, so every sandbox has loopback only. */
export function runscWithoutNetwork(facts: HostFacts): boolean {
  return facts.runtimes.runsc?.runtimeArgs?.includes("--network=none") === true;
}
