import type { CapabilityReport } from "./capabilities.js";
import type { DoctorReport } from "./doctor.js";
import type { EventsOptions, SessionEvent } from "./events.js";
import type { ExecOptions, ExecResult } from "./exec.js";
import type { ProviderFiles } from "./files.js";
import type { IsolationPolicy } from "./policy.js";
import type { ProviderProcesses } from "./processes.js";
import type { ReapOptions, SessionFilter, SessionInfo, SessionOptions } from "./session.js";
import type { SessionHandle } from "./session-handle.js";
import type { SessionStats, WatchStatsOptions } from "./usage.js";

export const specificationVersion = "isolation-provider/v1";

/**
 * What every isolation provider implements. Every method validates its input before any side
 * effect and throws only AgentRuntimeError subclasses.
 */
export interface IsolationProvider {
  readonly specificationVersion: typeof specificationVersion;
  /** "kata", "docker", "stub", ... */
  readonly id: string;
  /** What this instance enforces on this host. */
  capabilities(): Promise<CapabilityReport>;
  /** Checks the policy (schema, then capabilities), then creates the sandbox. Returns its id. */
  startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string>;
  /** Runs argv (no shell) in the session. A non-zero exit is a result, not an error. */
  exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Stops every process of the session; idempotent. */
  stopSession(sessionId: string): Promise<void>;
  /** Removes the session and everything it owns, from any state; idempotent. */
  destroySession(sessionId: string): Promise<void>;
  getSession(sessionId: string): Promise<SessionInfo>;
  /** Reads the backend, not a map in memory. */
  listSessions(filter?: SessionFilter): Promise<SessionInfo[]>;
  /** Destroys sessions whose owner is gone or whose TTL ran out; returns their ids. */
  reap(options?: ReapOptions): Promise<string[]>;
  /**
   * Files in a session's sandbox (contract v1 addition). Present when `features.files` is true;
   * a provider without the feature leaves it out, or rejects every call with CAPABILITY_MISMATCH.
   */
  readonly files?: ProviderFiles;
  /**
   * Processes that outlive the call that started them (contract v1 addition). Present when
   * `features.processes` is true; without the feature, left out or every call CAPABILITY_MISMATCH.
   */
  readonly processes?: ProviderProcesses;
  /**
   * Starts a session as startSession does and returns its handle, which `await using` destroys
   * (contract v1 addition). `bindSession(provider, id)` makes one for any provider.
   */
  session?(policy: IsolationPolicy, options?: SessionOptions): Promise<SessionHandle>;
  /** What the session uses, read from outside its sandbox (contract v1 addition, `features.usage`). */
  sessionStats?(sessionId: string): Promise<SessionStats>;
  /** The same, every `intervalMs`, until the session ends or the signal aborts. */
  watchSessionStats?(sessionId: string, options?: WatchStatsOptions): AsyncIterable<SessionStats>;
  /**
   * What happens to this provider's sessions, as it happens (contract v1 addition): fed by the
   * engine's own event stream where there is one, so it sees what is done behind the provider's
   * back, and resumed after a reconnect without losing or repeating an event.
   */
  events?(options?: EventsOptions): AsyncIterable<SessionEvent>;
  /** Readiness of this host for this provider, each failed check with its fix. */
  doctor?(): Promise<DoctorReport>;
  /** Releases connections and timers; sessions stay (use reap or destroySession for those). */
  close?(): Promise<void>;
}
