import { BackendError, type ExecRequest, type ExecResult } from "@cadre/agent-runtime-contract";
import { ExecDeadline, execResultOf, OutputCollector } from "@cadre/agent-runtime-provider-utils";
import { type AgentExecOutcome, AgentLinkClosedError } from "@cadre/agent-runtime-sandbox-agent";
import type { SessionAgent } from "./agent-session.js";
import type { DockerClient } from "./docker-client.js";
import {
  type ExecSession,
  killedByMemoryLimit,
  notRunning,
  sessionEndedError,
} from "./exec-outcome.js";

const agentKillMethod =
  "the session agent's supervisor of the command (a subreaper) killed every process below it";

/**
 * Runs one command through the session's agent: one frame out, its output and its exit back over
 * the attach stream the session already has, no Engine API call. The agent keeps the deadline
 * itself and kills the command's whole tree; the host's deadline sends the same kill, for an
 * abort and as a backstop.
 */
export async function runAgentExec(
  client: DockerClient,
  session: ExecSession,
  agent: SessionAgent,
  request: ExecRequest,
): Promise<ExecResult> {
  const startedAt = performance.now();
  const { argv, options } = request;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });

  let outcome: AgentExecOutcome;
  try {
    outcome = await agent.link.exec({
      argv,
      env: withEnv(agent.env, options.env),
      cwd: options.cwd ?? agent.cwd,
      ...(options.stdin !== undefined ? { stdin: toBytes(options.stdin) } : {}),
      maxOutputBytes: options.maxOutputBytes,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      signal: deadline.signal,
      onStdout: (chunk) => collector.push("stdout", chunk),
      onStderr: (chunk) => collector.push("stderr", chunk),
    });
  } catch (error) {
    if (deadline.abortedByCaller) throw deadline.callerReason;
    if (!(error instanceof AgentLinkClosedError)) throw error;
    // Under gVisor the memory limit kills the whole sandbox, the agent with it: the command's
    // result is that kill, as an engine exec reports it.
    if (await killedByMemoryLimit(client, session, undefined)) {
      return execResultOf({
        exitCode: 137,
        collector,
        deadline,
        startedAt,
        limitExceeded: "memory",
      });
    }
    // The agent went with its session (a stop, a removal), or died, which ends the session.
    throw (
      (await sessionEndedError(client, session)) ??
      new BackendError(`${error.message}; the session can run no more commands`, {
        providerId: client.providerId,
        cause: error,
      })
    );
  }
  if (deadline.abortedByCaller) throw deadline.callerReason;

  let exitCode = outcome.exitCode;
  let limitExceeded: ExecResult["limitExceeded"];
  if (!outcome.killed) {
    if (await killedByMemoryLimit(client, session, exitCode)) {
      exitCode = 137;
      limitExceeded = "memory";
    } else if (exitCode > 128 && session.haltedHere()) {
      throw notRunning(client, session);
    }
  }
  const result = execResultOf({
    exitCode,
    collector,
    deadline,
    startedAt,
    limitExceeded,
  });
  result.timedOut = outcome.timedOut || deadline.timedOut;
  if (outcome.truncated) result.truncated = true;
  if (outcome.killed) {
    result.kill = { complete: outcome.killed.complete, method: agentKillMethod };
    if (outcome.killed.survivors > 0) result.kill.survivors = outcome.killed.survivors;
  }
  return result;
}

/** The container's environment with the exec's variables in place of any of the same name. */
function withEnv(base: string[], extra: Record<string, string> | undefined): string[] {
  if (!extra) return base;
  const byName = new Map(base.map((entry) => [entry.slice(0, entry.indexOf("=")), entry]));
  for (const [name, value] of Object.entries(extra)) byName.set(name, `${name}=${value}`);
  return [...byName.values()];
}

function toBytes(stdin: string | Uint8Array): Uint8Array {
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : stdin;
}
