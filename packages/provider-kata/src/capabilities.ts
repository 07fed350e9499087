import { availableParallelism } from "node:os";
import type {
  CapabilityReport,
  CapabilityRow,
  IsolationLevel,
} from "@cadre/agent-runtime-contract";
import { minimumPids, sessionDefaults } from "./spec/session-spec.js";

export const providerId = "kata";

const features = {
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

const mib = 1024 * 1024;

/** What the provider enforces through a given kind of runtime. */
export type RuntimeKind = "kata" | "runc" | "runsc";

const isolationOf: Record<RuntimeKind, IsolationLevel> = {
  kata: "vm",
  runc: "container",
  runsc: "user-kernel",
};

/** Why gVisor (runsc through runc's shim) does not deliver these fields as the contract defines them. */
const runscLimits = {
  pids: "not under runsc: the host pids cgroup also counts gVisor's own Sentry and gofer threads, so a limit kills the whole sandbox instead of stopping a fork",
  cpu: "not under runsc: the CFS quota applies to the sandbox on the host, but inside gVisor it is invisible (no cgroupfs, nproc shows every host CPU)",
};

function row(kind: RuntimeKind, variant: string, maxCpus?: number): CapabilityRow {
  const vm = kind === "kata";
  const cpuLimits = maxCpus === undefined ? { min: 0.01 } : { min: 0.01, max: maxCpus };
  return {
    providerId,
    variant,
    isolation: isolationOf[kind],
    policy: {
      memory: {
        enforced: true,
        mechanism: vm
          ? "VM size (default_memory annotation) and guest cgroup limit"
          : kind === "runsc"
            ? "cgroup memory limit of the whole gVisor sandbox, swap off"
            : "cgroup memory limit, swap off",
        limits: { min: vm ? 128 * mib : kind === "runsc" ? 64 * mib : 6 * mib },
      },
      cpu:
        kind === "runsc"
          ? { enforced: false, mechanism: runscLimits.cpu }
          : {
              enforced: true,
              mechanism: vm ? "vCPUs (default_vcpus annotation) and CFS quota" : "cgroup CFS quota",
              limits: cpuLimits,
            },
      networkIsolation: {
        enforced: true,
        mechanism: vm
          ? "empty network namespace: the VM gets no NIC"
          : "empty network namespace (loopback only)",
      },
      readOnlyRootfs: {
        enforced: true,
        mechanism: `read-only root in the OCI spec; every session has a tmpfs /tmp of ${sessionDefaults.tmpBytes / mib} MiB and RLIMIT_NOFILE ${sessionDefaults.openFiles}`,
      },
      pids:
        kind === "runsc"
          ? { enforced: false, mechanism: runscLimits.pids }
          : {
              enforced: true,
              mechanism: `${vm ? "pids cgroup in the guest" : "pids cgroup"}, ${sessionDefaults.pids} when the policy is silent`,
              limits: { min: minimumPids },
            },
      minimumIsolation: { enforced: true, mechanism: `${isolationOf[kind]} boundary` },
      image: { enforced: true, mechanism: "containerd image in the provider's namespace" },
      env: {
        enforced: true,
        mechanism: "every command's whole environment, set by the session's agent",
      },
      workdir: {
        enforced: true,
        mechanism: "every command's working directory, made at the start",
      },
      user: {
        enforced: true,
        mechanism:
          "the session's agent runs every command as it, resolved from the image's /etc/passwd and /etc/group",
      },
      labels: { enforced: true, mechanism: "containerd container, snapshot and lease labels" },
      ttlMs: { enforced: true, mechanism: "owner timer, then reap()" },
    },
    features,
    defaults: {
      ...(kind === "runsc" ? {} : { pids: sessionDefaults.pids }),
      tmpBytes: sessionDefaults.tmpBytes,
      openFiles: sessionDefaults.openFiles,
      // A fresh network namespace with nothing in it, whatever the policy.
      network: "none",
    },
  };
}

/** The static rows: a host with Kata, and the same containerd path through runc and gVisor. */
export const kataCapabilityRows: CapabilityRow[] = [
  row("kata", "io.containerd.kata.v2"),
  row("runc", "io.containerd.runc.v2"),
  row("runsc", "io.containerd.runc.v2 + runsc"),
];

/** This instance's report, for the runtime kind actually found on this host. */
export function capabilityReport(kind: RuntimeKind, variant: string): CapabilityReport {
  return row(kind, variant, kind === "kata" ? undefined : availableParallelism());
}
