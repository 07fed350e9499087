import {
  BackendError,
  FileError,
  type FileErrorReason,
  ResourceLimitError,
} from "@cadre/agent-runtime-contract";
import {
  AgentFaultError,
  AgentFileError,
  AgentFileInterruptedError,
  MalformedRecordError,
} from "@cadre/agent-runtime-sandbox-agent";

/** An archive the host refused before the agent saw the entry: why, and the entry's name. */
export class UnsafeArchiveError extends Error {
  constructor(
    readonly entry: string,
    readonly why: string,
  ) {
    super(`the archive's entry ${JSON.stringify(entry)} ${why}`);
    this.name = "UnsafeArchiveError";
  }
}

/** An archive past the call's limits of bytes or entries, found by the host while streaming. */
export class ArchiveLimitError extends Error {}

const reasons: Record<string, FileErrorReason> = {
  ENOENT: "not-found",
  EEXIST: "exists",
  ENOTDIR: "not-a-directory",
  EISDIR: "is-a-directory",
  ENODEV: "not-a-file",
  ENOTEMPTY: "not-empty",
  EACCES: "permission-denied",
  EPERM: "permission-denied",
  EROFS: "read-only",
  EFBIG: "too-large",
  E2BIG: "too-large",
  EBUSY: "busy",
  ELOOP: "symlink-loop",
  ENAMETOOLONG: "name-too-long",
};

export interface FileCallContext {
  providerId: string;
  /** "write", "upload", ...: the call's name in messages. */
  operation: string;
  /** The path the caller named. */
  path: string;
  signal: AbortSignal | undefined;
}

/**
 * The contract's error for what a files operation met: FILE_ERROR with its reason, RESOURCE_LIMIT
 * `disk` when the session ran out of room, BACKEND_ERROR when the agent broke the protocol, the
 * caller's abort reason when it aborted. Errors that are already the contract's pass through.
 */
export function fileCallError(error: unknown, context: FileCallContext): unknown {
  const { providerId, operation, path, signal } = context;
  if (signal?.aborted && (error instanceof AgentFileInterruptedError || error === signal.reason)) {
    return signal.reason;
  }
  const options = { providerId, cause: error };
  if (error instanceof AgentFileInterruptedError) {
    return new FileError(
      "timed-out",
      path,
      `The ${operation} ran out of time and was stopped`,
      options,
    );
  }
  if (error instanceof UnsafeArchiveError) {
    return new FileError(
      "unsafe-archive",
      path,
      `The upload was refused: ${error.message}`,
      options,
    );
  }
  if (error instanceof ArchiveLimitError) {
    return new FileError(
      "too-large",
      path,
      `The ${operation} went past its limit: ${error.message}`,
      options,
    );
  }
  if (error instanceof AgentFileError) return agentFileError(error, context);
  if (error instanceof MalformedRecordError || error instanceof AgentFaultError) {
    return new BackendError(
      `The session's agent broke the files protocol during a ${operation} of ${JSON.stringify(path)} (${error.message}). Try again; destroy the session if it persists.`,
      options,
    );
  }
  return error;
}

function agentFileError(error: AgentFileError, context: FileCallContext): unknown {
  const { providerId, operation, path } = context;
  const options = { providerId, cause: error, errno: error.errno };
  if (error.errno === "ENOSPC" || error.errno === "EDQUOT") {
    return new ResourceLimitError(
      "disk",
      `The session ran out of room during a ${operation} of ${JSON.stringify(path)} (${error.errno}); nothing was left half-written. Free space in the sandbox, or give the session more.`,
      { providerId, cause: error },
    );
  }
  const inside = error.path ? ` at ${JSON.stringify(printable(error.path))}` : "";
  const entry = error.entry !== undefined ? ` (entry ${error.entry + 1} of the archive)` : "";
  // An extraction refuses an entry that would leave its target with EXDEV.
  if (operation === "upload" && error.errno === "EXDEV" && error.step === "record") {
    return new FileError(
      "unsafe-archive",
      path,
      `The upload was refused${entry}: it would leave the target`,
      options,
    );
  }
  if (error.step === "start") {
    return new FileError(
      "permission-denied",
      path,
      `The ${operation} could not take the owner asked for (${error.errno})`,
      options,
    );
  }
  const reason = reasons[error.errno] ?? "failed";
  return new FileError(
    reason,
    path,
    `The ${operation} failed at ${error.step}${inside}${entry} with ${error.errno}`,
    options,
  );
}

/** A name from the sandbox, fit for a message: bounded, no control characters. */
export function printable(name: Buffer | string): string {
  const text = typeof name === "string" ? name : name.toString("utf8");
  return text.slice(0, 512).replace(/[\u0000-\u001f\u007f]/g, "?");
}
