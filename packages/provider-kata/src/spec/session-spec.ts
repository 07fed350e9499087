import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";
import type { OciMount, OciProcess, OciResources, OciSpec, OciUser } from "./oci-types.js";
import { defaultSeccompProfile } from "./seccomp-profile.js";

/**
 * The session's working directory. PID 1 runs in "/" (a working directory inside the /tmp tmpfs
 * does not exist yet when it starts); execs run here.
 */
export const workdirAnnotation = "cadre.agent-runtime/workdir";

/** The defaults of every exec: the main process spec, in the session's working directory. */
export function execDefaults(spec: OciSpec): OciProcess {
  return { ...spec.process, cwd: spec.annotations[workdirAnnotation] ?? spec.process.cwd };
}

/** Kata's sandbox sizing annotations; Kata honours them when enable_annotations allows them. */
export const kataAnnotations = {
  memoryMiB: "io.katacontainers.config.hypervisor.default_memory",
  vcpus: "io.katacontainers.config.hypervisor.default_vcpus",
} as const;

const cpuPeriod = 100_000;
const mib = 1024 * 1024;

/**
 * What a session gets when its policy is silent (the policy has no field for the last two).
 * `pids` applies where the runtime enforces a pids limit (not under gVisor).
 */
export const sessionDefaults = {
  pids: 1024,
  /** The size of the tmpfs /tmp every session has; it counts against the memory limit. */
  tmpBytes: 256 * mib,
  /** RLIMIT_NOFILE, soft and hard, of every process. */
  openFiles: 1024,
} as const;

/**
 * The smallest pids limit a session runs with: its own two processes (PID 1 and its sleep), the
 * OCI runtime's short-lived helpers while an exec starts, the command, and the tree killer that
 * a deadline starts beside it.
 */
export const minimumPids = 8;

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
  /** The pids limit when the policy has none; undefined where the runtime cannot enforce one. */
  defaultPids: number | undefined;
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
    rlimits: [
      { type: "RLIMIT_NOFILE", hard: sessionDefaults.openFiles, soft: sessionDefaults.openFiles },
    ],
    noNewPrivileges: true,
  };
}

function sessionMounts(): OciMount[] {
  return [
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
    {
      // Bounded scratch space, writable also in a read-only session; it counts against memory.
      destination: "/tmp",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "nodev", "mode=1777", `size=${sessionDefaults.tmpBytes / 1024}k`],
    },
  ];
}

function resources(policy: ValidatedPolicy, defaultPids: number | undefined): OciResources {
  const out: OciResources = { devices: [{ allow: false, access: "rwm" }] };
  // swap equal to the limit: memory+swap may not exceed the limit, so the session never swaps.
  if (policy.memory !== undefined) out.memory = { limit: policy.memory, swap: policy.memory };
  if (policy.cpu !== undefined)
    out.cpu = { quota: Math.max(1000, Math.round(policy.cpu * cpuPeriod)), period: cpuPeriod };
  const pids = policy.pids ?? defaultPids;
  if (pids !== undefined) out.pids = { limit: pids };
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
    process: processSpec(sessionMainArgs, input.user, input.env, "/"),
    root: { path: "rootfs", readonly: policy.readOnlyRootfs === true },
    hostname: input.sessionId.slice(0, 63),
    mounts: sessionMounts(),
    annotations: {
      ...(input.annotations ?? {}),
      ...sizingAnnotations(policy),
      [workdirAnnotation]: input.cwd,
    },
    linux: {
      resources: resources(policy, input.defaultPids),
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
      seccomp: defaultSeccompProfile(),
    },
  };
}
