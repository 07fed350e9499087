import { type ExecOptions, type ExecResult, execKillGraceMs } from "@cadre/agent-runtime-contract";
import { ExecDeadline, execResultOf, OutputCollector } from "@cadre/agent-runtime-provider-utils";
import {
  type AgentExecOutcome,
  type AgentLink,
  AgentLinkClosedError,
} from "@cadre/agent-runtime-sandbox-agent";
import { errnoName, execStartError, resourceLimit, signalName } from "./agent-errors.js";

const agentKillMethod =
  "the session agent's supervisor of the command (a subreaper) killed every process below it";

/**
 * A timed-out exec whose agent has not answered by then (a tenant stopped it with SIGSTOP: on
 * the stub it runs as the same user) settles anyway, this long after its deadline.
 */
const settleAfterDeadlineMs = execKillGraceMs - 1_000;

export interface AgentCommand {
  argv: string[];
  /** NAME=VALUE: the command's whole environment. */
  env: string[];
  /** The working directory on the host. */
  cwd: string;
  options: ExecOptions & { maxOutputBytes: number };
}

/**
 * What the link's end meant for an exec that was still running: "stopped" when the session was
 * stopped or destroyed (the command was killed with it), or the error to throw.
 */
export type LinkEnded = (error: AgentLinkClosedError) => Promise<"stopped" | Error>;

/**
 * Runs one command through the session's agent, which keeps the deadline itself and kills the
 * command's whole tree (its supervisor is a subreaper, so setsid, double forks and env -i stay
 * below it); the host's deadline and the caller's abort send the same kill. The result is built
 * as every provider builds it, with `kill` from the agent's own verdict.
 */
export async function runAgentExec(
  link: AgentLink,
  command: AgentCommand,
  linkEnded: LinkEnded,
): Promise<ExecResult> {
  const startedAt = performance.now();
  const { argv, options } = command;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });

  const running = link.exec({
    argv,
    env: command.env,
    cwd: command.cwd,
    ...(options.stdin !== undefined ? { stdin: toBytes(options.stdin) } : {}),
    maxOutputBytes: options.maxOutputBytes,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    signal: deadline.signal,
    onStdout: (chunk) => collector.push("stdout", chunk),
    onStderr: (chunk) => collector.push("stderr", chunk),
  });
  let outcome: AgentExecOutcome | "unanswered";
  try {
    outcome = await withBackstop(running, options.timeoutMs);
  } catch (error) {
    if (deadline.abortedByCaller) throw deadline.callerReason;
    if (!(error instanceof AgentLinkClosedError)) throw execStartError(argv[0] ?? "", error);
    const ended = await linkEnded(error);
    if (ended !== "stopped") throw ended;
    // Killed with its session: a result, as a command killed by any other SIGKILL.
    return execResultOf({ exitCode: 137, collector, deadline, startedAt, signal: "SIGKILL" });
  }
  if (deadline.abortedByCaller) throw deadline.callerReason;

  if (outcome === "unanswered") {
    const result = execResultOf({
      exitCode: 137,
      collector,
      deadline,
      startedAt,
      signal: "SIGKILL",
    });
    result.timedOut = true;
    result.kill = {
      complete: false,
      method: `${agentKillMethod}; the agent did not answer in time`,
    };
    return result;
  }
  if (outcome.startErrno !== undefined) {
    const limit = resourceLimit(
      errnoName(outcome.startErrno),
      `start ${JSON.stringify(argv[0])}`,
      undefined,
    );
    if (limit) throw limit;
    // As a shell says it.
    const message =
      outcome.startErrno === 2
        ? `cadre-stub: ${argv[0]}: command not found\n`
        : `cadre-stub: ${argv[0]}: cannot execute (${errnoName(outcome.startErrno)})\n`;
    collector.push("stderr", Buffer.from(message));
  }
  const result = execResultOf({
    exitCode: outcome.exitCode,
    collector,
    deadline,
    startedAt,
    signal: signalName(outcome.signal) ?? null,
  });
  result.timedOut = outcome.timedOut || deadline.timedOut;
  if (outcome.truncated) result.truncated = true;
  if (outcome.killed) {
    result.kill = { complete: outcome.killed.complete, method: agentKillMethod };
    if (outcome.killed.survivors > 0) result.kill.survivors = outcome.killed.survivors;
  }
  return result;
}

/** The outcome, or "unanswered" once a deadline's grace is over without one. */
async function withBackstop(
  running: Promise<AgentExecOutcome>,
  timeoutMs: number | undefined,
): Promise<AgentExecOutcome | "unanswered"> {
  if (timeoutMs === undefined) return running;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"unanswered">((resolve) => {
    timer = setTimeout(() => resolve("unanswered"), timeoutMs + settleAfterDeadlineMs);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
    running.catch(() => {
      // Settled after the backstop: nobody waits for it any more.
    });
  }
}

function toBytes(stdin: string | Uint8Array): Uint8Array {
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : stdin;
}
