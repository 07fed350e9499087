import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";
import type { ContainerCreateOptions } from "dockerode";
import type { DockerRuntime } from "./options.js";

export interface ContainerSpecInput {
  sessionId: string;
  image: string;
  runtime: DockerRuntime;
  policy: ValidatedPolicy;
  /** Container labels, already carrying the provider's prefix. */
  labels: Record<string, string>;
}

/** Mount options of the scratch /tmp of a read-only session; its pages count against `memory`. */
export const scratchTmpOptions = "rw,nosuid,nodev,mode=1777";

/**
 * The container of one session. Its main process only keeps the container alive under Docker's
 * init (which reaps orphans); commands run as execs. Hardening is applied whatever the policy.
 */
export function containerSpec(input: ContainerSpecInput): ContainerCreateOptions {
  const { policy } = input;
  const hostConfig: NonNullable<ContainerCreateOptions["HostConfig"]> = {
    Runtime: input.runtime,
    Init: true,
    Privileged: false,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    NetworkMode: policy.networkIsolation ? "none" : "bridge",
    IpcMode: "private",
    ReadonlyRootfs: policy.readOnlyRootfs === true,
    AutoRemove: false,
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "none", Config: {} },
    Binds: [],
  };
  if (policy.readOnlyRootfs) hostConfig.Tmpfs = { "/tmp": scratchTmpOptions };
  if (policy.memory !== undefined) {
    hostConfig.Memory = policy.memory;
    hostConfig.MemorySwap = policy.memory;
  }
  if (policy.cpu !== undefined) hostConfig.NanoCpus = Math.round(policy.cpu * 1e9);
  if (policy.pids !== undefined) hostConfig.PidsLimit = policy.pids;

  const spec: ContainerCreateOptions = {
    name: input.sessionId,
    Hostname: input.sessionId.slice(0, 63),
    Image: input.image,
    Entrypoint: ["sleep"],
    Cmd: ["infinity"],
    Labels: input.labels,
    Env: Object.entries(policy.env ?? {}).map(([k, v]) => `${k}=${v}`),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    HostConfig: hostConfig,
  };
  if (policy.workdir) spec.WorkingDir = policy.workdir;
  if (policy.user) spec.User = policy.user;
  return spec;
}
