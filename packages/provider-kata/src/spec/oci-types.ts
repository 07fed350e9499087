/** The parts of the OCI runtime spec (1.0.2) that cadre writes. */

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciProcess {
  terminal: boolean;
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: Record<
    "bounding" | "effective" | "inheritable" | "permitted" | "ambient",
    string[]
  >;
  rlimits: { type: string; hard: number; soft: number }[];
  noNewPrivileges: boolean;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciResources {
  devices: { allow: boolean; access: string }[];
  memory?: { limit: number; swap: number };
  cpu?: { quota: number; period: number };
  pids?: { limit: number };
}

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: "SCMP_CMP_EQ" | "SCMP_CMP_NE" | "SCMP_CMP_MASKED_EQ";
}

export interface OciSeccomp {
  defaultAction: "SCMP_ACT_ERRNO";
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: {
    names: string[];
    action: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
    errnoRet?: number;
    args?: OciSeccompArg[];
  }[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    resources: OciResources;
    cgroupsPath: string;
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: OciSeccomp;
  };
}

/** Type urls containerd uses for JSON-encoded runtime-spec values in an Any. */
export const specTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
export const processTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process";
