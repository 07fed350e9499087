import { z } from "zod";
import { isolationLevelSchema } from "./isolation-level.js";
import { policyFields } from "./policy.js";

export const fieldCapabilitySchema = z.object({
  /** The provider delivers this field as the contract defines it. */
  enforced: z.boolean(),
  /** How, in a few words an operator understands ("cgroup memory.max", "NetworkMode none"). */
  mechanism: z.string().min(1),
  /**
   * Accepted and recorded but not enforced. Only the stub's advisory mode sets this, so that
   * cadre core's unit tests can pass real policies; checkPolicy() lets such fields through.
   */
  advisory: z.boolean().optional(),
  /** Numeric range the provider can deliver, in the field's unit. */
  limits: z.object({ min: z.number().optional(), max: z.number().optional() }).optional(),
  /**
   * For memory and pids: false when a command this limit ended is not told as its cause
   * (ExecResult.cause "memory" or "pids", and the limit.hit event), because the counters that
   * tell it are out of this instance's reach (a remote engine's host). Absent: it is told.
   */
  reportsCause: z.boolean().optional(),
});
export type FieldCapability = z.infer<typeof fieldCapabilitySchema>;

export const featuresSchema = z.object({
  /** onStdout / onStderr receive chunks as they arrive. */
  streaming: z.boolean(),
  /** exec accepts stdin. */
  stdin: z.boolean(),
  /** provider.files: files and directory trees in and out of a session (docs/files.md). */
  files: z.boolean(),
  /**
   * provider.processes: processes that outlive the call that started them, attached to again
   * from any instance, with terminals (docs/processes.md). A report from before it says nothing:
   * false.
   */
  processes: z.boolean().default(false),
  /** sessionStats and watchSessionStats: usage read from outside the sandbox (docs/observability.md). */
  usage: z.boolean().default(false),
  /**
   * provider.events(): what happens to sessions as it happens, from the engine's own event stream
   * where it has one (docs/observability.md).
   */
  events: z.boolean().default(false),
  /**
   * getSession still tells how a removed session ended, for the provider's sessionEndRetentionMs
   * (state "ended"); without it a removed session is SESSION_NOT_FOUND at once.
   */
  sessionEnds: z.boolean().default(false),
  /** policy.ttlMs destroys the session even if nobody calls destroySession. */
  ttl: z.boolean(),
  /** listSessions / reap read the backend, so they work after a restart. */
  persistentSessions: z.boolean(),
});
export type ProviderFeatures = z.infer<typeof featuresSchema>;

/**
 * What a session gets when its policy is silent: safe defaults a policy may raise within the
 * field's limits. A provider with isolation "none" has none of them.
 */
export const sessionDefaultsSchema = z.object({
  /** Most processes at once when the policy sets no `pids`. */
  pids: z.number().int().positive().optional(),
  /** Size of the session's writable scratch /tmp, in bytes. */
  tmpBytes: z.number().int().positive().optional(),
  /** RLIMIT_NOFILE (soft and hard) of every process in the session. */
  openFiles: z.number().int().positive().optional(),
  /** Bytes the session's writable layer may grow by, where the engine can bound it. */
  diskBytes: z.number().int().positive().optional(),
  /**
   * The network of a session without `networkIsolation`: "none", no interface but loopback;
   * "private", a network of the provider's own on which sessions reach neither each other, nor the
   * host, nor link-local addresses (outside traffic as usual); "host", the host's own network
   * (isolation "none" only).
   */
  network: z.enum(["none", "private", "host"]),
});
export type SessionDefaults = z.infer<typeof sessionDefaultsSchema>;

const policyCapabilitiesShape = Object.fromEntries(
  policyFields.map((f) => [f, fieldCapabilitySchema]),
) as { [K in (typeof policyFields)[number]]: typeof fieldCapabilitySchema };

export const capabilityReportSchema = z.object({
  providerId: z.string().min(1),
  /** A variant of the provider, e.g. the Docker runtime "runsc". */
  variant: z.string().optional(),
  isolation: isolationLevelSchema,
  policy: z.object(policyCapabilitiesShape),
  features: featuresSchema,
  /** The defaults a session gets where its policy is silent. */
  defaults: sessionDefaultsSchema,
});

/**
 * What a provider instance enforces on this host. An instance's report may be narrower than the
 * provider's static row when the host lacks something.
 */
export type CapabilityReport = z.infer<typeof capabilityReportSchema>;

/**
 * A provider's static row for docs/capability-matrix.md: what it enforces on a host that has
 * everything it needs. Same shape as a report.
 */
export type CapabilityRow = CapabilityReport;
