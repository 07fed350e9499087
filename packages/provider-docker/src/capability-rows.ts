import type { CapabilityReport, CapabilityRow } from "@cadre/agent-runtime-contract";
import { sessionDefaults } from "./container-spec.js";
import type { DockerRuntime } from "./options.js";

/** Docker refuses memory limits under 6 MiB. */
export const minimumMemoryBytes = 6 * 1024 * 1024;
/** The init and the keep-alive process take two pids, an exec and the exec killer one each. */
export const minimumPids = 4;

const features: CapabilityReport["features"] = {
  streaming: true,
  stdin: true,
  files: true,
  processes: true,
  usage: true,
  events: true,
  sessionEnds: true,
  ttl: true,
  persistentSessions: true,
};

const sessionFields = {
  image: { enforced: true, mechanism: "container image" },
  env: { enforced: true, mechanism: "container Env" },
  workdir: { enforced: true, mechanism: "container WorkingDir" },
  user: { enforced: true, mechanism: "container User" },
  labels: { enforced: true, mechanism: "container labels" },
  ttlMs: { enforced: true, mechanism: "timer in the owner process, then reap()" },
} as const;

const MiB = 1024 * 1024;
const tmpfs = `a ${sessionDefaults.tmpBytes / MiB} MiB tmpfs`;
/** The defaults every session gets, as the capability report shows them. */
const everySession = `every session: open files capped at ${sessionDefaults.nofile} (nofile, also set by the session's agent), no size limit on the writable layer (overlay2)`;

export const runsc = {
  readOnlyRootfs: `ReadonlyRootfs with ${tmpfs} /tmp; with a writable root /tmp is gVisor's own, in memory, bounded by memory only`,
  pidsReason: `not enforced under runsc: the host pids cgroup also counts gVisor's own Sentry and gofer threads, so a low limit keeps the sandbox from starting and a fork bomb kills the whole sandbox; ${everySession}`,
  network: "runsc --network=none: loopback only",
};

/** What a session gets where its policy is silent. */
const defaults: CapabilityReport["defaults"] = {
  pids: sessionDefaults.pids,
  tmpBytes: sessionDefaults.tmpBytes,
  openFiles: sessionDefaults.nofile,
  network: "private",
};

const runcRow: CapabilityRow = {
  providerId: "docker",
  variant: "runc",
  isolation: "container",
  policy: {
    memory: {
      enforced: true,
      mechanism: "cgroup memory limit, swap equal to memory (HostConfig.Memory, MemorySwap)",
      limits: { min: minimumMemoryBytes },
    },
    cpu: { enforced: true, mechanism: "CFS quota (HostConfig.NanoCpus)", limits: { min: 0.01 } },
    networkIsolation: {
      enforced: true,
      mechanism:
        'NetworkMode "none": loopback only; without it the session network (no traffic to other sessions, the host or 169.254.0.0/16)',
    },
    readOnlyRootfs: {
      enforced: true,
      mechanism: `ReadonlyRootfs; /tmp is ${tmpfs} in every session`,
    },
    pids: {
      enforced: true,
      mechanism: `cgroup pids limit (HostConfig.PidsLimit), ${sessionDefaults.pids} when the policy is silent; ${everySession}`,
      limits: { min: minimumPids, max: sessionDefaults.maxPids },
    },
    minimumIsolation: { enforced: true, mechanism: "runc: Linux namespaces and cgroups" },
    ...sessionFields,
  },
  features,
  defaults,
};

const runscRow: CapabilityRow = {
  providerId: "docker",
  variant: "runsc",
  isolation: "user-kernel",
  policy: {
    ...runcRow.policy,
    memory: {
      enforced: true,
      mechanism: "cgroup memory limit of the whole gVisor sandbox, swap equal to memory",
      limits: { min: 64 * 1024 * 1024 },
    },
    cpu: {
      enforced: true,
      mechanism:
        "CFS quota of the gVisor sandbox (HostConfig.NanoCpus), cpuset of ceil(cpu) CPUs so gVisor sees that many",
      limits: { min: 0.01 },
    },
    networkIsolation: { enforced: true, mechanism: runsc.network },
    readOnlyRootfs: { enforced: true, mechanism: runsc.readOnlyRootfs },
    pids: { enforced: false, mechanism: runsc.pidsReason },
    minimumIsolation: { enforced: true, mechanism: "runsc: gVisor user-space kernel" },
  },
  features,
  // No pids limit under gVisor, and a writable session's /tmp is gVisor's own, bounded by memory
  // (only a read-only root gets the sized tmpfs); its sandboxes run with --network=none here.
  defaults: { openFiles: defaults.openFiles, network: "none" },
};

const crunRow: CapabilityRow = {
  ...runcRow,
  variant: "crun",
  policy: {
    ...runcRow.policy,
    minimumIsolation: { enforced: true, mechanism: "crun: Linux namespaces and cgroups" },
  },
};

/** What differs on Podman's Docker-compatible API, measured on Debian's podman 4.3.1. */
export const podman = {
  network:
    'NetworkMode "none" in every session, loopback only: Podman gets no session network (its bridges are not guarded by the host rules)',
  rootlessV1: (field: string) =>
    `not enforced: rootless Podman on cgroup v1 gets no cgroup of its own and ignores ${field} with a warning (measured); run Podman rootful, or rootless on cgroup v2 with the controllers delegated`,
};

const podmanRow: CapabilityRow = {
  ...crunRow,
  variant: "podman, crun",
  policy: {
    ...crunRow.policy,
    networkIsolation: { enforced: true, mechanism: podman.network },
    minimumIsolation: {
      enforced: true,
      mechanism: "crun under Podman: Linux namespaces and cgroups",
    },
  },
  defaults: { ...defaults, network: "none" },
};

const podmanRootlessRow: CapabilityRow = {
  ...podmanRow,
  variant: "podman rootless, crun, cgroup v1",
  policy: {
    ...podmanRow.policy,
    memory: { enforced: false, mechanism: podman.rootlessV1("memory limits") },
    cpu: { enforced: false, mechanism: podman.rootlessV1("CPU quotas") },
    pids: {
      enforced: false,
      mechanism: `${podman.rootlessV1("pids limits")}; every session: open files capped at ${sessionDefaults.nofile} by the session's agent (rootless Podman's Docker API ignores Ulimits, measured), no size limit on the writable layer`,
    },
    minimumIsolation: {
      enforced: true,
      mechanism:
        "crun under rootless Podman: Linux namespaces in a user namespace of the user's subuids",
    },
  },
  // Its containers have no cgroup: the engine's stats count nothing of what a session uses.
  features: { ...podmanRow.features, usage: false },
  defaults: { tmpBytes: defaults.tmpBytes, openFiles: defaults.openFiles, network: "none" },
};

/**
 * What each runtime enforces on a host that has everything (rows of docs/capability-matrix.md),
 * and the rows of Podman where it differs from Docker.
 */
export const dockerCapabilityRows: CapabilityRow[] = [
  runcRow,
  runscRow,
  crunRow,
  podmanRow,
  podmanRootlessRow,
];

export function staticRow(runtime: DockerRuntime): CapabilityRow {
  return runtime === "runsc" ? runscRow : runtime === "crun" ? crunRow : runcRow;
}

/** The row of a Podman engine: rootful, or rootless without cgroups of its own. */
export function podmanStaticRow(enforcesLimits: boolean): CapabilityRow {
  return enforcesLimits ? podmanRow : podmanRootlessRow;
}
