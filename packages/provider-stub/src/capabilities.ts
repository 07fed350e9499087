import type { CapabilityReport, FieldCapability } from "@cadre/agent-runtime-contract";

export const stubProviderId = "stub";

const notEnforced = {
  memory: "nothing, host processes run without a memory limit",
  cpu: "nothing, host processes run without a CPU quota",
  networkIsolation: "nothing, host processes share the host's network",
  readOnlyRootfs: "nothing, host processes can write wherever this user can",
  pids: "nothing, host processes run without a process limit",
  user: "nothing, commands run as the user of the calling process",
  image: "nothing, there are no images: commands come from the host's PATH",
} as const;

type UnenforcedField = keyof typeof notEnforced;

/** What the stub offers. Advisory mode accepts the unenforced fields and only records them. */
export function stubCapabilities(enforcement: "strict" | "advisory"): CapabilityReport {
  const unenforced = Object.fromEntries(
    (Object.keys(notEnforced) as UnenforcedField[]).map((field) => {
      const capability: FieldCapability = { enforced: false, mechanism: notEnforced[field] };
      if (enforcement === "advisory") {
        capability.advisory = true;
        capability.mechanism = `advisory: recorded in the session's policy; enforced by ${notEnforced[field]}`;
      }
      return [field, capability];
    }),
  ) as Record<UnenforcedField, FieldCapability>;

  return {
    providerId: stubProviderId,
    isolation: "none",
    policy: {
      ...unenforced,
      minimumIsolation: {
        enforced: true,
        mechanism: 'offers "none" only: host processes, no boundary at all',
      },
      env: { enforced: true, mechanism: "the only variables besides PATH and HOME" },
      workdir: {
        enforced: true,
        mechanism: "a directory under the session's scratch root, created at start",
      },
      labels: { enforced: true, mechanism: "stored in the session's session.json" },
      ttlMs: { enforced: true, mechanism: "timer in the owner process, then reap()" },
    },
    features: {
      streaming: true,
      stdin: true,
      files: true,
      processes: true,
      usage: true,
      ttl: true,
      persistentSessions: true,
    },
    // Host processes: no limits of their own, and the host's network.
    defaults: { network: "host" },
  };
}

/** The stub's row for docs/capability-matrix.md: the default (strict) stub. */
export const stubCapabilityRows: CapabilityReport[] = [stubCapabilities("strict")];
