import type { CapabilityReport } from "@cadre/agent-runtime-contract";

export const miniDockerId = "mini-docker";

/** What every session gets, whatever its policy says (see sessionContainer). */
export const sessionDefaults = {
  pids: 1024,
  tmpBytes: 256 * 1024 * 1024,
  openFiles: 4096,
} as const;

export const miniDockerCapabilities: CapabilityReport = {
  providerId: miniDockerId,
  isolation: "container",
  policy: {
    minimumIsolation: { enforced: true, mechanism: 'offers "container": runc under Docker' },
    memory: { enforced: false, mechanism: "nothing: this example does not watch for OOM kills" },
    cpu: { enforced: false, mechanism: "nothing: this example sets no CPU quota" },
    pids: {
      enforced: true,
      mechanism: `cgroup pids limit, ${sessionDefaults.pids} when the policy is silent`,
      limits: { min: 8, max: 32_768 },
    },
    networkIsolation: { enforced: true, mechanism: 'NetworkMode "none" for every session' },
    readOnlyRootfs: { enforced: true, mechanism: "ReadonlyRootfs, with a tmpfs /tmp" },
    user: {
      enforced: true,
      mechanism: "every command runs as it, resolved by the session agent in the image",
    },
    image: { enforced: true, mechanism: "an image the daemon has; never pulled" },
    env: { enforced: true, mechanism: "the container's Env, and the exec's over it" },
    workdir: { enforced: true, mechanism: "the container's WorkingDir" },
    labels: { enforced: true, mechanism: "container labels" },
    ttlMs: { enforced: true, mechanism: "timer in the owner process, then reap()" },
  },
  features: {
    streaming: true,
    stdin: true,
    files: false,
    processes: false,
    usage: false,
    ttl: true,
    persistentSessions: true,
  },
  defaults: { network: "none", ...sessionDefaults },
};
