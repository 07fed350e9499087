import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";
import { agentArgs, agentCapabilities, agentMountPath } from "@cadre/agent-runtime-sandbox-agent";
import { type AgentDelivery, agentPathIn, agentVolumePath } from "./container-agent.js";
import type { ContainerSpec } from "./docker-client.js";
import type { DockerRuntime } from "./options.js";

export interface ContainerSpecInput {
  sessionId: string;
  image: string;
  runtime: DockerRuntime;
  policy: ValidatedPolicy;
  /** Container labels, already carrying the provider's prefix. */
  labels: Record<string, string>;
  /** CPUs of the host, to pick the cpuset of a gVisor session. */
  hostCpus: number;
  /** The session network's id, or "none" when the session joins no network (session-network.ts). */
  networkMode: string;
  /** The host path of cadre-agent, the session's PID 1. */
  agentBinary: string;
  /**
   * How it reaches the container (container-agent.ts): "mount" (default) from this host's files,
   * "copy" into a volume of its own through the API, for a daemon elsewhere.
   */
  agentDelivery?: AgentDelivery;
  /** The engine: Podman needs the nproc limit set (see below). Default "docker". */
  engine?: "docker" | "podman";
  /** A seccomp profile file on the engine's host, in place of its default (podman-seccomp.ts). */
  seccompProfile?: string;
  /** The user of the session's commands when the policy names none: the image's own. */
  imageUser?: string;
}

/**
 * What every session gets when its policy is silent. pids applies under runc only (see
 * capability-rows.ts for runsc); a policy may ask for up to `maxPids`. /tmp is a tmpfs of
 * `tmpBytes` in every runc session and in runsc sessions with a read-only root; its pages count
 * against `memory`. A writable runsc session keeps gVisor's own in-memory /tmp, bounded by
 * `memory` only: this gVisor cannot start in a working directory under a tmpfs that Docker mounts
 * (it does not create it, as runc does), and workdir under /tmp is common. The rest of a writable root has no size limit: overlay2 can quota a
 * container's layer only on xfs with project quotas (`StorageOpt.size`), which Docker hosts rarely
 * have, so the provider does not ask for one.
 */
export const sessionDefaults = {
  pids: 1024,
  maxPids: 32_768,
  tmpBytes: 512 * 1024 * 1024,
  nofile: 4096,
  nproc: 32_768,
} as const;

/** Mount options of every session's /tmp. */
export const scratchTmpOptions = `rw,nosuid,nodev,mode=1777,size=${sessionDefaults.tmpBytes}`;

/**
 * The container of one session: cadre-agent is its PID 1 and runs every command. Hardening is
 * applied whatever the policy.
 */
export function containerSpec(input: ContainerSpecInput): ContainerSpec {
  const { policy } = input;
  const hostConfig: NonNullable<ContainerSpec["HostConfig"]> = {
    Runtime: input.runtime,
    // The agent is PID 1 and reaps orphans itself.
    Init: false,
    Privileged: false,
    CapDrop: ["ALL"],
    SecurityOpt: [
      "no-new-privileges",
      ...(input.seccompProfile ? [`seccomp=${input.seccompProfile}`] : []),
    ],
    NetworkMode: policy.networkIsolation ? "none" : input.networkMode,
    IpcMode: "private",
    ReadonlyRootfs: policy.readOnlyRootfs === true,
    AutoRemove: false,
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "none", Config: {} },
    Ulimits: [{ Name: "nofile", Soft: sessionDefaults.nofile, Hard: sessionDefaults.nofile }],
  };
  const delivery = input.agentDelivery ?? "mount";
  if (delivery === "mount") hostConfig.Binds = [`${input.agentBinary}:${agentMountPath}:ro`];
  else {
    // Filled through the API before the container starts; removed with it (remove's v=true).
    hostConfig.Mounts = [
      {
        Type: "volume",
        Source: "",
        Target: agentVolumePath,
        VolumeOptions: {
          NoCopy: true,
          Labels: input.labels,
          DriverConfig: { Name: "local", Options: {} },
        },
      },
    ];
  }
  if (input.engine === "podman") {
    // Podman asks for RLIMIT_NPROC 1048576 when the request names none, above the hard limit it
    // often runs under itself; crun then fails to set it (the container has no
    // CAP_SYS_RESOURCE). An explicit limit within reach avoids that; pids is the real bound.
    hostConfig.Ulimits?.push({
      Name: "nproc",
      Soft: sessionDefaults.nproc,
      Hard: sessionDefaults.nproc,
    });
  }
  if (input.runtime !== "runsc" || policy.readOnlyRootfs) {
    hostConfig.Tmpfs = { "/tmp": scratchTmpOptions };
  }
  if (policy.memory !== undefined) {
    hostConfig.Memory = policy.memory;
    hostConfig.MemorySwap = policy.memory;
  }
  if (policy.cpu !== undefined) {
    hostConfig.NanoCpus = Math.round(policy.cpu * 1e9);
    if (input.runtime === "runsc") {
      hostConfig.CpusetCpus = sandboxCpuset(policy.cpu, input.hostCpus, input.sessionId);
    }
  }
  if (policy.pids !== undefined) hostConfig.PidsLimit = policy.pids;
  else if (input.runtime !== "runsc") hostConfig.PidsLimit = sessionDefaults.pids;

  // The agent starts as root with its capabilities only, and becomes agentUid at once; every
  // command runs as the session's user (the policy's, else the image's) with none.
  hostConfig.CapAdd = [...agentCapabilities];
  const spec: ContainerSpec = {
    name: input.sessionId,
    Hostname: input.sessionId.slice(0, 63),
    Image: input.image,
    Entrypoint: [agentPathIn(delivery)],
    // The agent sets the open-files limit too: rootless Podman ignores Ulimits.
    Cmd: agentArgs(policy.user ?? input.imageUser, { nofile: sessionDefaults.nofile }),
    User: "0:0",
    Labels: input.labels,
    Env: Object.entries(policy.env ?? {}).map(([k, v]) => `${k}=${v}`),
    // The host speaks to the agent over the container's own stdin and stdout, which stay open
    // for attaches.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: true,
    StdinOnce: false,
    HostConfig: hostConfig,
  };
  if (policy.workdir) spec.WorkingDir = policy.workdir;
  return spec;
}

/**
 * gVisor shows its processes neither the host's cgroups nor the CFS quota; it sizes its CPU count
 * from the CPUs its sandbox may run on. A cpuset of ceil(cpu) CPUs makes that count match the
 * quota. The first CPU is derived from the session id, so that sessions spread over the host.
 */
export function sandboxCpuset(cpu: number, hostCpus: number, sessionId: string): string {
  const total = Math.max(1, hostCpus);
  const count = Math.min(total, Math.max(1, Math.ceil(cpu)));
  let hash = 0;
  for (const char of sessionId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const cpus = Array.from({ length: count }, (_, i) => (hash + i) % total);
  return cpus.sort((a, b) => a - b).join(",");
}
