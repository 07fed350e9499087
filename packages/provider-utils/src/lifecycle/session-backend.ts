import type {
  CapabilityReport,
  DoctorReport,
  ExecRequest,
  ExecResult,
  SessionState,
  SessionStats,
  ValidatedPolicy,
} from "@cadre/agent-runtime-contract";
import type { AgentLink } from "@cadre/agent-runtime-sandbox-agent";
import type { CommandDefaults } from "../agent-exec.js";
import type { EndRecordStore, SandboxExit } from "./session-ends.js";

/** A session's agent as withAgent hands it out: the link, and what a command gets by default. */
export interface SessionAgentAccess {
  link: AgentLink;
  defaults: CommandDefaults;
}

/** A session the lifecycle asks a backend to create: id, labels and policy are already decided. */
export interface NewSession {
  id: string;
  /** The checked policy, env values included (the backend passes them to the sandbox only). */
  policy: ValidatedPolicy;
  /** buildSessionLabels(): what every backend object of the session carries. */
  labels: Record<string, string>;
  /**
   * The caller's start signal. The lifecycle already stops waiting when it aborts and destroys
   * what the start made once it settles; a backend may use it to stop early.
   */
  signal?: AbortSignal;
}

/** A session as the backend records it: its labels and the state of its sandbox. */
export interface BackendSession {
  labels: Record<string, string>;
  state: SessionState;
  /** How its sandbox stopped, when it does not run and the engine says (find() only). */
  exit?: SandboxExit;
}

/**
 * What an engine's own event stream says of a session. The stream's backend maps the engine's
 * events to these, for this provider's sessions only; `connected` comes first on each connection,
 * once the engine streams.
 */
export type EngineEvent =
  | { kind: "connected" }
  | { kind: "started"; sessionId: string; at: string; cursor?: string }
  | { kind: "exited"; sessionId: string; at: string; exit: SandboxExit; cursor?: string }
  | { kind: "removed"; sessionId: string; at: string; cursor?: string }
  | { kind: "oom"; sessionId: string; at: string; cursor?: string };

/**
 * What a provider supplies: its engine's calls, nothing of the contract's rules. The lifecycle
 * (SessionLifecycle) validates input, makes ids and labels, keeps TTLs, and decides what
 * getSession, listSessions and reap return, the same way for every provider.
 *
 * Every method that takes an id gets a well-formed one, and acts only on objects whose labels make
 * them this provider's session of exactly that id: another deployment's container under that name
 * is not found, and is never touched. Errors are AgentRuntimeError subclasses.
 */
export interface SessionBackend {
  /** "docker", "kata", "stub", ... */
  readonly providerId: string;
  /** What this instance enforces on this host. */
  capabilities(): Promise<CapabilityReport>;
  /**
   * A report to check input against when capabilities() cannot be read (the engine is down), so
   * bad input is still reported as such. Without it, the engine's error comes first.
   */
  offlineCapabilities?(): CapabilityReport;
  /** Fails closed (PROVIDER_UNAVAILABLE, with the failed checks) when no session can start here. */
  ensureReady?(): Promise<void>;
  /** Creates and starts the sandbox. On failure, leaves nothing of it behind. */
  create(session: NewSession): Promise<void>;
  /**
   * Runs one validated request. A session that is not this provider's is SESSION_NOT_FOUND, one
   * that does not run is SESSION_NOT_RUNNING: a command that did not run is never an exit code.
   */
  exec(id: string, request: ExecRequest): Promise<ExecResult>;
  /**
   * Runs `use` with the session's cadre-agent, for what is built on the agent beyond exec (files,
   * processes). Before `use`, a session that is not this provider's is SESSION_NOT_FOUND and one
   * that does not run SESSION_NOT_RUNNING, as for exec; a link that closes under `use` becomes the
   * session's error the same way. A backend without it has neither files nor processes.
   */
  withAgent?<T>(id: string, use: (agent: SessionAgentAccess) => Promise<T>): Promise<T>;
  /**
   * What the session uses, read from outside its sandbox (the host's cgroups, the engine's stats).
   * A session that does not run is SESSION_NOT_RUNNING; a backend without it has no usage.
   */
  usage?(id: string): Promise<Omit<SessionStats, "sessionId" | "at">>;
  /** Stops every process of the session; resolves when there is no such session. */
  stop(id: string): Promise<void>;
  /** Removes every object of the session, from any state; resolves when there is none. */
  destroy(id: string): Promise<void>;
  /** The session of that id, or undefined. */
  find(id: string): Promise<BackendSession | undefined>;
  /**
   * Every session of this provider in the backend. `labels` is a hint a backend may use to filter
   * at the source; the lifecycle filters again.
   */
  list(labels?: Record<string, string>): Promise<BackendSession[]>;
  /**
   * Where ended sessions' records are kept (getSession after destroy). Without it, a removed
   * session is SESSION_NOT_FOUND at once.
   */
  readonly endRecords?: EndRecordStore;
  /**
   * One connection to the engine's event stream: yields `connected`, then the engine's events
   * from `since` (a cursor an earlier event carried) on, and ends or throws when the connection
   * does; the caller reconnects. Without it, events() reads list() at an interval.
   */
  engineEvents?(options: { since?: string; signal: AbortSignal }): AsyncIterable<EngineEvent>;
  /**
   * Whether engineEvents tells every OOM kill in a session (Docker's `oom`), so that a command's
   * memory cause is not told again as limit.hit. Default: true when there is an engine stream.
   */
  engineTellsOomKills?(): Promise<boolean>;
  doctor(): Promise<DoctorReport>;
  /** Releases connections; sessions stay. */
  close?(): Promise<void>;
}
