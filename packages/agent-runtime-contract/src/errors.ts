import type { DoctorCheck } from "./doctor.js";

/** Stable error codes. Messages may change between releases; codes never do. */
export type AgentRuntimeErrorCode =
  | "POLICY_INVALID"
  | "CAPABILITY_MISMATCH"
  | "SESSION_NOT_FOUND"
  | "SESSION_NOT_RUNNING"
  | "PROVIDER_UNAVAILABLE"
  | "RESOURCE_LIMIT"
  | "BACKEND_ERROR"
  | "FILE_ERROR"
  | "PROCESS_NOT_FOUND";

// A global symbol, so that two copies of this package in one process recognise each other's errors.
const brand = Symbol.for("cadre.agent-runtime.error");

export interface AgentRuntimeErrorOptions {
  providerId?: string;
  cause?: unknown;
}

/**
 * Base class of every error a provider throws on purpose. Check with the static `isInstance()`
 * rather than `instanceof` when more than one copy of the contract may be installed.
 */
export class AgentRuntimeError extends Error {
  static readonly code: AgentRuntimeErrorCode | undefined = undefined;
  readonly [brand] = true;
  readonly code: AgentRuntimeErrorCode;
  readonly providerId: string | undefined;

  constructor(
    code: AgentRuntimeErrorCode,
    message: string,
    options: AgentRuntimeErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.providerId = options.providerId;
  }

  /** True for an error of this class (matched by code) from any copy of the contract. */
  static isInstance<T>(
    this: { readonly code: AgentRuntimeErrorCode | undefined; prototype: T },
    error: unknown,
  ): error is T {
    if (typeof error !== "object" || error === null) return false;
    if ((error as Record<symbol, unknown>)[brand] !== true) return false;
    return this.code === undefined || (error as AgentRuntimeError).code === this.code;
  }
}

export interface PolicyIssue {
  /** Path of the bad value, e.g. "memory", "env.PATH", "argv[2]". */
  path: string;
  message: string;
}

/** The input does not have the right shape: a policy, an argv, exec options or a config. */
export class PolicyValidationError extends AgentRuntimeError {
  static override readonly code = "POLICY_INVALID";
  readonly issues: PolicyIssue[];

  constructor(
    issues: PolicyIssue[],
    options: AgentRuntimeErrorOptions & { subject?: string } = {},
  ) {
    const subject = options.subject ?? "isolation policy";
    const list = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
    super(
      "POLICY_INVALID",
      `Invalid ${subject}: ${list}. Fix these values and call again.`,
      options,
    );
    this.issues = issues;
  }
}

/**
 * The provider cannot deliver what was asked for: a field it does not enforce on this host, a
 * value outside its limits, an isolation level above its own, or a field it does not know.
 * Nothing was created. There is no silent downgrade.
 */
export class CapabilityMismatchError extends AgentRuntimeError {
  static override readonly code = "CAPABILITY_MISMATCH";
  /** The policy fields that cannot be honoured (the seed package's name for them). */
  readonly unsupportedPolicies: string[];
  /** Why, field by field. */
  readonly reasons: Record<string, string>;

  constructor(reasons: Record<string, string>, options: AgentRuntimeErrorOptions = {}) {
    const fields = Object.keys(reasons);
    const provider = options.providerId ? `provider "${options.providerId}"` : "this provider";
    const detail = fields.map((f) => `${f} (${reasons[f]})`).join(", ");
    super(
      "CAPABILITY_MISMATCH",
      `The ${provider} cannot honour: ${detail}. Remove these fields, or choose a provider whose capabilities() reports them as enforced.`,
      options,
    );
    this.unsupportedPolicies = fields;
    this.reasons = reasons;
  }
}

export class SessionNotFoundError extends AgentRuntimeError {
  static override readonly code = "SESSION_NOT_FOUND";
  /** The id as the caller passed it, as text (callers may pass anything). */
  readonly sessionId: string;

  constructor(sessionId: unknown, options: AgentRuntimeErrorOptions = {}) {
    const shown = printable(sessionId);
    super(
      "SESSION_NOT_FOUND",
      `No session ${JSON.stringify(shown)} exists on this provider. Use an id returned by startSession() or listed by listSessions(); destroyed sessions are gone.`,
      options,
    );
    this.sessionId = shown;
  }
}

/** Any value as text, without throwing (String() throws on objects without a prototype). */
function printable(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export class SessionNotRunningError extends AgentRuntimeError {
  static override readonly code = "SESSION_NOT_RUNNING";
  readonly sessionId: string;
  readonly state: string;

  constructor(sessionId: string, state: string, options: AgentRuntimeErrorOptions = {}) {
    super(
      "SESSION_NOT_RUNNING",
      `Session ${sessionId} is ${state}, so it cannot run commands. Start a new session with startSession().`,
      options,
    );
    this.sessionId = sessionId;
    this.state = state;
  }
}

/** The provider cannot work on this host: daemon down, prerequisite missing. */
export class ProviderUnavailableError extends AgentRuntimeError {
  static override readonly code = "PROVIDER_UNAVAILABLE";
  /** The checks that failed, each with its fix. */
  readonly checks: DoctorCheck[];

  constructor(
    message: string,
    options: AgentRuntimeErrorOptions & { checks?: DoctorCheck[] } = {},
  ) {
    const checks = options.checks ?? [];
    const fixes = checks
      .filter((c) => !c.ok)
      .map((c) => `\n  - ${c.title}: ${c.detail}${c.fix ? ` Fix: ${c.fix}` : ""}`)
      .join("");
    super("PROVIDER_UNAVAILABLE", `${message}${fixes}`, options);
    this.checks = checks;
  }
}

export type LimitedResource = "memory" | "pids" | "disk";

/** A session hit one of its limits in a way that prevents the call from completing. */
export class ResourceLimitError extends AgentRuntimeError {
  static override readonly code = "RESOURCE_LIMIT";
  readonly resource: LimitedResource;

  constructor(resource: LimitedResource, message: string, options: AgentRuntimeErrorOptions = {}) {
    super("RESOURCE_LIMIT", message, options);
    this.resource = resource;
  }
}

/** The engine answered with something unexpected. `cause` holds the engine's own error. */
export class BackendError extends AgentRuntimeError {
  static override readonly code = "BACKEND_ERROR";

  constructor(message: string, options: AgentRuntimeErrorOptions = {}) {
    super("BACKEND_ERROR", message, options);
  }
}

/** Why a files operation failed, as FileError's `reason`. */
export type FileErrorReason =
  | "not-found"
  | "exists"
  | "not-a-directory"
  | "is-a-directory"
  | "not-a-file"
  | "not-empty"
  | "permission-denied"
  | "read-only"
  | "too-large"
  | "unsafe-archive"
  | "busy"
  | "symlink-loop"
  | "name-too-long"
  | "timed-out"
  | "failed";

const fileFixes: Record<FileErrorReason, string> = {
  "not-found": "Check the path, or pass mkdirs to make missing parents.",
  exists: "Remove it first, or write without exclusive.",
  "not-a-directory": "A component of the path is not a directory: check the path.",
  "is-a-directory": "Name a file, or remove the directory first.",
  "not-a-file": "Only regular files are read; a device, FIFO or socket is not.",
  "not-empty": "Remove it with recursive: true.",
  "permission-denied":
    "The session's user (or the owner given) may not do this: pick a path it may write, or an owner that may.",
  "read-only": "The root file system is read-only here: write below a writable mount such as /tmp.",
  "too-large": "Raise maxBytes or maxEntries within what the caller can hold, or transfer less.",
  "unsafe-archive":
    "The archive names a path outside its target, a hard link, a device or a FIFO: rebuild it with plain relative entries.",
  busy: "The sandbox's root cannot be removed or renamed: name something below it.",
  "symlink-loop": "Symbolic links on the path point in a circle: fix the links.",
  "name-too-long": "Use a shorter path (at most 4095 bytes, 255 per component).",
  "timed-out": "Raise timeoutMs, or transfer less at a time; nothing was left half-written.",
  failed: "Try again; destroy the session if it persists.",
};

/**
 * A files operation failed for a reason of the file system (contract v1 addition): the path,
 * the reason, and the system's name for it. Running out of room is RESOURCE_LIMIT `disk`; a
 * session that is gone or stopped is SESSION_NOT_FOUND or SESSION_NOT_RUNNING, as for exec.
 */
export class FileError extends AgentRuntimeError {
  static override readonly code = "FILE_ERROR";
  readonly reason: FileErrorReason;
  /** The path of the call (for an archive, with the entry inside it when known). */
  readonly path: string;
  /** The system's name for it, e.g. "ENOENT", when there was one. */
  readonly errno: string | undefined;

  constructor(
    reason: FileErrorReason,
    path: string,
    detail: string,
    options: AgentRuntimeErrorOptions & { errno?: string } = {},
  ) {
    super(
      "FILE_ERROR",
      `${detail}: ${JSON.stringify(path)} (${reason}). ${fileFixes[reason]}`,
      options,
    );
    this.reason = reason;
    this.path = path;
    this.errno = options.errno;
  }
}

/**
 * No process of that id in the session (contract v1 addition): it never was, or it ended long
 * enough ago that the session's agent let go of its record for a newer one.
 */
export class ProcessNotFoundError extends AgentRuntimeError {
  static override readonly code = "PROCESS_NOT_FOUND";
  readonly processId: string;

  constructor(sessionId: string, processId: string, options: AgentRuntimeErrorOptions = {}) {
    super(
      "PROCESS_NOT_FOUND",
      `Session ${sessionId} has no process ${JSON.stringify(processId.slice(0, 100))}. Use an id that spawn() returned or list() shows; a process that ended is kept only until newer ones need its place.`,
      options,
    );
    this.processId = processId;
  }
}
