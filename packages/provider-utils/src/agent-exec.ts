import { constants } from "node:os";
import {
  BackendError,
  type ExecRequest,
  type ExecResult,
  execKillGraceMs,
  ResourceLimitError,
} from "@cadre/agent-runtime-contract";
import {
  type AgentExecOutcome,
  AgentFaultError,
  type AgentLink,
  AgentLinkClosedError,
} from "@cadre/agent-runtime-sandbox-agent";
import { ExecDeadline } from "./exec-deadline.js";
import { execResultOf } from "./exec-result.js";
import { OutputCollector } from "./output-collector.js";

/** What a command gets when its exec is silent: the session's environment and directory. */
export interface CommandDefaults {
  /** NAME=VALUE entries; the exec's own variables replace those of the same name. */
  env: string[];
  cwd: string;
  /** Where a command's own cwd is in the sandbox (the stub's scratch root stands for "/"). */
  resolveCwd?(cwd: string): string;
}

/** How a command ended, as the provider judges it from what its engine knows. */
export interface JudgedEnd {
  exitCode: number;
  limitExceeded?: ExecResult["limitExceeded"];
  /** With limitExceeded: the limit, and what the host's cgroup saw (peak bytes, processes). */
  limit?: number;
  value?: number;
  /** The session stopped or went under the command. */
  sessionEnded?: boolean;
}

/**
 * What the agent cannot tell, asked of the provider: its engine's view of how a command ended.
 */
export interface AgentExecJudge {
  /** The provider's id, for the errors of a command that could not run. */
  providerId: string;
  /**
   * The link closed under the command (the agent died, or went with its sandbox). Resolve with
   * how the command ended (a memory limit that kills the whole sandbox takes the agent with it),
   * or throw the session's error (SESSION_NOT_RUNNING, SESSION_NOT_FOUND, BACKEND_ERROR).
   */
  linkClosed(error: AgentLinkClosedError): Promise<JudgedEnd>;
  /**
   * The command ended without the agent killing it: its exit as the engine sees it (the memory
   * limit's 137), or throw when the session ended under it. Default: the agent's word.
   */
  exited?(exitCode: number): Promise<JudgedEnd>;
}

/** The `kill.method` of a command the agent killed. */
export const agentKillMethod =
  "the session agent's supervisor of the command (a subreaper) killed every process below it";

/**
 * How long after its deadline a command whose agent has not answered (stopped, hung, its stream
 * stalled) is given up: the exec still settles within the contract's grace.
 */
const unansweredAfterDeadlineMs = execKillGraceMs - 1_000;

/**
 * Runs one command through a session's agent, with the contract's exec semantics: the command's
 * environment is the session's with the exec's variables over it; the agent keeps the deadline
 * and caps the output inside the sandbox, and kills the command's whole tree at the deadline or
 * on abort (the host's deadline sends the same kill, as a backstop); output streams to the
 * callbacks as it comes; an abort rejects with the caller's reason after the kill.
 */
export async function execThroughAgent(
  link: AgentLink,
  defaults: CommandDefaults,
  request: ExecRequest,
  judge: AgentExecJudge,
): Promise<ExecResult> {
  const startedAt = performance.now();
  const { argv, options } = request;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });

  const running = link.exec({
    argv,
    env: withEnv(defaults.env, options.env),
    cwd: options.cwd ?? defaults.cwd,
    ...(options.stdin !== undefined ? { stdin: toBytes(options.stdin) } : {}),
    maxOutputBytes: options.maxOutputBytes,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    signal: deadline.signal,
    onStdout: (chunk) => collector.push("stdout", chunk),
    onStderr: (chunk) => collector.push("stderr", chunk),
  });
  let outcome: AgentExecOutcome | "unanswered";
  try {
    outcome = await answeredBy(running, options.timeoutMs);
  } catch (error) {
    if (deadline.abortedByCaller) throw deadline.callerReason;
    if (error instanceof AgentLinkClosedError) {
      return execResultOf({ ...(await judge.linkClosed(error)), collector, deadline, startedAt });
    }
    if (error instanceof AgentFaultError) {
      throw new BackendError(
        `The session's agent could not run ${JSON.stringify(argv[0])}: ${error.message}. Try again; destroy the session if it persists.`,
        { providerId: judge.providerId, cause: error },
      );
    }
    throw error;
  }
  if (deadline.abortedByCaller) throw deadline.callerReason;

  if (outcome === "unanswered") {
    const result = execResultOf({ exitCode: 137, timedOut: true, collector, deadline, startedAt });
    result.kill = {
      complete: false,
      method: `${agentKillMethod}; the agent did not answer in time`,
    };
    return result;
  }
  if (outcome.startErrno !== undefined)
    startFailed(argv[0] ?? "", outcome.startErrno, collector, judge);
  const end: JudgedEnd =
    outcome.killed || !judge.exited
      ? { exitCode: outcome.exitCode }
      : await judge.exited(outcome.exitCode);
  const result = execResultOf({
    ...end,
    timedOut: outcome.timedOut,
    collector,
    deadline,
    startedAt,
  });
  if (outcome.truncated) result.truncated = true;
  if (outcome.killed) {
    result.kill = { complete: outcome.killed.complete, method: agentKillMethod };
    if (outcome.killed.survivors > 0) result.kill.survivors = outcome.killed.survivors;
  }
  return result;
}

/** The agent's outcome, or "unanswered" once a deadline's grace is over without one. */
async function answeredBy(
  running: Promise<AgentExecOutcome>,
  timeoutMs: number | undefined,
): Promise<AgentExecOutcome | "unanswered"> {
  if (timeoutMs === undefined) return running;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"unanswered">((resolve) => {
    timer = setTimeout(() => resolve("unanswered"), timeoutMs + unansweredAfterDeadlineMs);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
    // Settled after it was given up: nobody waits for it any more.
    running.catch(() => {});
  }
}

/**
 * A program that could not start. No process or memory to be had (EAGAIN: the pids limit, a fork
 * bomb; ENOMEM) is RESOURCE_LIMIT; otherwise the result says it as a shell would, on stderr, with
 * 127 for a program that is not there and 126 for one that cannot run.
 */
function startFailed(
  program: string,
  errno: number,
  collector: OutputCollector,
  judge: AgentExecJudge,
): void {
  const name = errnoName(errno);
  const resource = name === "EAGAIN" ? "pids" : name === "ENOMEM" ? "memory" : undefined;
  if (resource) {
    throw new ResourceLimitError(
      resource,
      `${JSON.stringify(program)} could not start: no ${resource === "pids" ? "process" : "memory"} is left to the session (${name}). Wait for its other commands to end (destroySession frees every process of a session), or raise the limit, and run it again.`,
      { providerId: judge.providerId },
    );
  }
  const message = name === "ENOENT" ? "command not found" : `cannot execute (${name})`;
  collector.push("stderr", Buffer.from(`${program}: ${message}\n`));
}

function errnoName(errno: number): string {
  return (
    Object.entries(constants.errno).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`
  );
}

/** `base` (NAME=VALUE entries) with `extra`'s variables in place of any of the same name. */
export function withEnv(
  base: readonly string[],
  extra: Record<string, string> | undefined,
): string[] {
  const byName = new Map(base.map((entry) => [entry.slice(0, entry.indexOf("=")), entry]));
  for (const [name, value] of Object.entries(extra ?? {})) byName.set(name, `${name}=${value}`);
  return [...byName.values()];
}

function toBytes(stdin: string | Uint8Array): Uint8Array {
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : stdin;
}
