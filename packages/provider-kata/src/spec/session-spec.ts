import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";
import type { OciMount, OciProcess, OciResources, OciSpec, OciUser } from "./oci-types.js";

/** Kata's sandbox sizing annotations; Kata honours them when enable_annotations allows them. */
export const kataAnnotations = {
  memoryMiB: "io.katacontainers.config.hypervisor.default_memory",
  vcpus: "io.katacontainers.config.hypervisor.default_vcpus",
} as const;

const cpuPeriod = 100_000;
const openFilesLimit = 1024;
const mib = 1024 * 1024;

/**
 * PID 1 of every session: a shell that sleeps forever and, as it waits, reaps the orphans that
 * commands leave behind (a bare `sleep` would let zombies pile up against the pids limit).
 */
export const sessionMainArgs = [
  "/bin/sh",
  "-c",
  "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done",
];

const maskedPaths = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];
const readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export interface SessionSpecInput {
  sessionId: string;
  policy: ValidatedPolicy;
  user: OciUser;
  env: string[];
  cwd: string;
  /** cgroup parent under which the session's cgroup is created (cgroupfs path). */
  cgroupParent: string;
  /** Extra annotations, e.g. the runtime's own. */
  annotations?: Record<string, string>;
}

/** Capabilities of session processes: none. With no-new-privileges nothing can gain any. */
export function emptyCapabilities(): OciProcess["capabilities"] {
  return { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
}

export function processSpec(args: string[], user: OciUser, env: string[], cwd: string): OciProcess {
  return {
    terminal: false,
    user,
    args,
    env,
    cwd,
    capabilities: emptyCapabilities(),
    rlimits: [{ type: "RLIMIT_NOFILE", hard: openFilesLimit, soft: openFilesLimit }],
    noNewPrivileges: true,
  };
}

function sessionMounts(policy: ValidatedPolicy): OciMount[] {
  const mounts: OciMount[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
  if (policy.readOnlyRootfs) {
    // The documented writable scratch space of a read-only session; it counts against memory.
    mounts.push({
      destination: "/tmp",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "nodev", "mode=1777", "size=512m"],
    });
  }
  return mounts;
}

function resources(policy: ValidatedPolicy): OciResources {
  const out: OciResources = { devices: [{ allow: false, access: "rwm" }] };
  // swap equal to the limit: memory+swap may not exceed the limit, so the session never swaps.
  if (policy.memory !== undefined) out.memory = { limit: policy.memory, swap: policy.memory };
  if (policy.cpu !== undefined)
    out.cpu = { quota: Math.max(1000, Math.round(policy.cpu * cpuPeriod)), period: cpuPeriod };
  if (policy.pids !== undefined) out.pids = { limit: policy.pids };
  return out;
}

/** Kata sizes the VM from these: memory in MiB (rounded up), whole vCPUs (rounded up). */
export function sizingAnnotations(policy: ValidatedPolicy): Record<string, string> {
  const out: Record<string, string> = {};
  if (policy.memory !== undefined)
    out[kataAnnotations.memoryMiB] = String(Math.ceil(policy.memory / mib));
  if (policy.cpu !== undefined) out[kataAnnotations.vcpus] = String(Math.ceil(policy.cpu));
  return out;
}

/**
 * The session container's OCI spec. Every namespace is fresh, including the network namespace
 * (no path: an empty one with loopback only, so a Kata VM gets no NIC), whatever
 * networkIsolation says: cadre never shares the host's network with untrusted code.
 */
export function buildSessionSpec(input: SessionSpecInput): OciSpec {
  const { policy } = input;
  return {
    ociVersion: "1.0.2-dev",
    process: processSpec(sessionMainArgs, input.user, input.env, input.cwd),
    root: { path: "rootfs", readonly: policy.readOnlyRootfs === true },
    hostname: input.sessionId.slice(0, 63),
    mounts: sessionMounts(policy),
    annotations: { ...(input.annotations ?? {}), ...sizingAnnotations(policy) },
    linux: {
      resources: resources(policy),
      cgroupsPath: `${input.cgroupParent.replace(/\/+$/, "")}/${input.sessionId}`,
      namespaces: [
        { type: "pid" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "network" },
      ],
      maskedPaths,
      readonlyPaths,
    },
  };
}
