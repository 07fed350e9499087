import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";
import type { CommandDefaults } from "@cadre/agent-runtime-provider-utils";
import {
  agentArgs,
  agentCapabilities,
  agentConnectArgv,
  agentMountPath,
} from "@cadre/agent-runtime-sandbox-agent";
import type { OciMount, OciProcess, OciResources, OciSpec, OciUser } from "./oci-types.js";
import { defaultSeccompProfile } from "./seccomp-profile.js";

/**
 * The session's working directory. PID 1 (the agent) runs in "/" (a working directory inside
 * the /tmp tmpfs does not exist yet when it starts); commands run here.
 */
export const workdirAnnotation = "cadre.agent-runtime/workdir";

/** The defaults of every command, from the session's stored spec. */
export function commandDefaults(spec: OciSpec): CommandDefaults {
  return {
    env: spec.process.env,
    cwd: spec.annotations[workdirAnnotation] ?? spec.process.cwd,
  };
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
 * The smallest pids limit a session runs with: the agent (PID 1), a command's supervisor, the
 * command and a pipeline of it, and the OCI runtime's helper with the `cadre-agent connect` of a
 * host that attaches later.
 */
export const minimumPids = 8;

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
  /**
   * Who the session's commands run as: the policy's user, else the image's (a name or a number,
   * with an optional group); the agent resolves it in the image's /etc/passwd and /etc/group.
   */
  user: string;
  /** The host path of the cadre-agent binary, bind-mounted read-only as PID 1. */
  agentBinary: string;
  /** The commands' environment (the image's, then the policy's); also PID 1's. */
  env: string[];
  cwd: string;
  /** cgroup parent under which the session's cgroup is created (cgroupfs path). */
  cgroupParent: string;
  /** Extra annotations, e.g. the runtime's own. */
  annotations?: Record<string, string>;
  /** The pids limit when the policy has none; undefined where the runtime cannot enforce one. */
  defaultPids: number | undefined;
}

/** No capabilities at all. With no-new-privileges nothing can gain any. */
export function emptyCapabilities(): OciProcess["capabilities"] {
  return { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
}

/**
 * PID 1's: exactly the agent's (`agentCapabilities`), none inheritable or ambient, so nothing
 * it starts inherits one; each command drops them all, its bounding set too.
 */
export function agentProcessCapabilities(): OciProcess["capabilities"] {
  const held = agentCapabilities.map((name) => `CAP_${name}`);
  return {
    bounding: [...held],
    effective: [...held],
    permitted: [...held],
    inheritable: [],
    ambient: [],
  };
}

export function processSpec(
  args: string[],
  user: OciUser,
  env: string[],
  cwd: string,
  capabilities: OciProcess["capabilities"] = emptyCapabilities(),
): OciProcess {
  return {
    terminal: false,
    user,
    args,
    env,
    cwd,
    capabilities,
    rlimits: [
      { type: "RLIMIT_NOFILE", hard: sessionDefaults.openFiles, soft: sessionDefaults.openFiles },
    ],
    noNewPrivileges: true,
  };
}

/**
 * PID 1 of every session: cadre-agent, started as root with the agent's capabilities only (it
 * becomes `agentUid` at once, keeping them), with the commands' user as its argument.
 */
export function agentProcess(user: string, env: string[]): OciProcess {
  return processSpec(
    [agentMountPath, ...agentArgs(user)],
    { uid: 0, gid: 0 },
    env,
    "/",
    agentProcessCapabilities(),
  );
}

/**
 * A containerd exec that joins the running agent of a session over its socket and relays its
 * own stdio (a host that did not start the session). Started as PID 1 is, as root with the
 * agent's capabilities only: it makes its stdio its own and becomes `agentUid`, the one uid the
 * agent lets in, which no command has.
 */
export function agentConnectProcess(): OciProcess {
  return processSpec(
    [...agentConnectArgv],
    { uid: 0, gid: 0 },
    [],
    "/",
    agentProcessCapabilities(),
  );
}

function sessionMounts(agentBinary: string): OciMount[] {
  return [
    {
      // The agent, from the host: nothing in the sandbox can change it.
      destination: agentMountPath,
      type: "bind",
      source: agentBinary,
      options: ["rbind", "ro", "nosuid", "nodev"],
    },
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
    process: agentProcess(input.user, input.env),
    root: { path: "rootfs", readonly: policy.readOnlyRootfs === true },
    hostname: input.sessionId.slice(0, 63),
    mounts: sessionMounts(input.agentBinary),
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
