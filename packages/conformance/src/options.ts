import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";

export interface ConformanceOptions {
  /** Shown in every test name, e.g. "docker (runsc)". */
  name: string;
  /**
   * Called once per test file, and again by the tests that need a second instance on the same
   * backend (listing after a "restart", a TTL owner that closes). close() is called on each.
   */
  createProvider: () => IsolationProvider | Promise<IsolationProvider>;
  /** The image every session uses (policy.image); omit for providers without images (stub). */
  image?: string;
  /** Merged into every policy the suite starts sessions with. */
  basePolicy?: IsolationPolicy;
  /**
   * Set when the backend is not reachable on this host. Outside CI the suite is skipped with this
   * reason; under CI=true it registers one failing test instead, so a missing engine never passes.
   */
  unavailableReason?: string;
  /**
   * Required. Reads the backend directly (not through the provider) and returns the ids of every
   * object still carrying all of these labels: containers, tasks, snapshots, directories,
   * processes. The suite labels each of its sessions and expects an empty list after destroy,
   * after every refused start, and at the end. Reading through the provider would let a provider
   * that forgets its own objects pass.
   */
  findBackendLeftovers: (labels: Record<string, string>) => Promise<string[]>;
  /**
   * Required. Path or file URL of a plain ES module (Node must load it without a build step) whose
   * default export builds the same provider on the same backend (a factory, or an instance), for
   * the [MUST] test that kills an owner process with SIGKILL and reaps its session from this one.
   * A child process imports it, starts a session and is killed.
   */
  providerModule: string;
  /**
   * Required. Reads, directly from the backend, every label or record it keeps for one session
   * that listings or other owners can read back (the labels of its container, snapshot and lease;
   * a record file), and returns them as text. The hostile-tenant area checks that env values
   * never appear there while env names do.
   */
  readBackendLabels: (sessionId: string) => Promise<string>;
  /**
   * Required. Creates, directly in the backend, objects that look like sessions to a careless
   * provider but are not sessions of this provider instance: a container named like a session id
   * without the session labels, a session of another deployment (another label prefix), an object
   * whose name and session label disagree. Each id must be a well-formed session id. The
   * hostile-tenant area checks that no method acts on them.
   */
  plantForeignObjects: () => Promise<ForeignObject[]>;
  /**
   * Reads ended sessions' records directly from the backend: one text per record that carries all
   * of these labels, as stored (its labels, its contents). Required when the report says
   * `features.sessionEnds`; the suite checks that a record is there after destroy, holds no env
   * value, and is gone after reap removed it.
   */
  findEndRecords?: (labels: Record<string, string>) => Promise<string[]>;
  /**
   * Required. Kills the sandbox's first process from outside the provider with SIGKILL, as
   * `docker kill` does, for the test that the session then ends with agent-lost.
   */
  killFromOutside: (sessionId: string) => Promise<void>;
  /**
   * Restarts the engine under the running sessions, where the suite may (an engine of the test's
   * own): the sessions then end with engine-lost, or run on when `sessionsSurvive` (containerd
   * keeps its tasks across a restart of its daemon).
   */
  restartEngine?: { restart(): Promise<void>; sessionsSurvive: boolean };
  /** Multiplies the suite's per-test time limits on slow backends. Default 1. */
  timeScale?: number;
  /** Sessions started at once by the concurrency tests. Default 8. */
  concurrentSessions?: number;
}

/** An object in the backend that is not a session of the provider under test. */
export interface ForeignObject {
  /** The name a careless provider would take for a session id. */
  id: string;
  /** What it is, for failure messages: "container without session labels". */
  description: string;
  /** Whether it still exists untouched (running, where it ran). */
  alive(): Promise<boolean>;
  /** Removes it; the suite calls it in any case. */
  remove(): Promise<void>;
}
