import { rm } from "node:fs/promises";
import type { Socket } from "node:net";
import {
  type ExecKillReport,
  type ExecRequest,
  type ExecResult,
  execKillGraceMs,
} from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  execTagVariable,
  OutputCollector,
} from "@cadre/agent-runtime-provider-utils";
import type { ContainerdClient } from "../containerd/client.js";
import { grpcDetails } from "../containerd/grpc-errors.js";
import type { OomWatch } from "../host/cgroup-oom.js";
import type { FifoReserve } from "../io/fifo-reserve.js";
import { openFifoReader, writeFifo } from "../io/fifo-stream.js";
import type { OciProcess } from "../spec/oci-types.js";
import { processTypeUrl } from "../spec/oci-types.js";
import { newExecId } from "./exec-id.js";
import { killExecTree, killerMethod, type TreeKillOutcome } from "./kill-tree.js";
import { SettleBound } from "./settle-bound.js";

export interface ExecTarget {
  client: ContainerdClient;
  containerId: string;
  /** Fresh named pipes in the session's directory. */
  fifos: FifoReserve;
  /** The session's main process spec: user, env and cwd defaults for every exec. */
  base: OciProcess;
  /** The session's host OOM counter, when it has a memory limit. */
  oomWatch?: OomWatch;
}

function mergeEnv(
  base: string[],
  extra: Record<string, string> | undefined,
  tag: string,
): string[] {
  const byName = new Map<string, string>();
  for (const entry of base) byName.set(entry.slice(0, entry.indexOf("=")), entry);
  for (const [k, v] of Object.entries(extra ?? {})) byName.set(k, `${k}=${v}`);
  byName.set(execTagVariable, `${execTagVariable}=${tag}`);
  return [...byName.values()];
}

function drain(stream: Socket, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    stream.on("data", onChunk);
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", resolve);
  });
}

/** 127 when the program does not exist, 126 when it cannot be executed, else undefined. */
function startFailure(error: unknown): number | undefined {
  const text = grpcDetails(error);
  if (/executable file not found|no such file or directory/i.test(text)) return 127;
  if (/permission denied|exec format error/i.test(text)) return 126;
  return undefined;
}

/**
 * Milestones after the deadline fires, within the contract's grace: the tree killer may run until
 * `killer`; the command's exit and the end of its output are waited for until `drain` (the
 * fallback's wait for the task ends then too), and at most `drainAfterKill` after the killer is
 * done; at `settle` exec returns whatever is still pending (the shim's own wait for output that a
 * held pipe never ends goes on without us), leaving time to build the result on a loaded host.
 */
export const settleMilestones = {
  killer: Math.round(execKillGraceMs * 0.5),
  drain: Math.round(execKillGraceMs * 0.7),
  drainAfterKill: Math.round(execKillGraceMs * 0.2),
  settle: Math.round(execKillGraceMs * 0.8),
} as const;

/** What the kill reached: complete only when the killer made sure and nothing holds the output. */
function killReport(
  outcome: TreeKillOutcome | undefined,
  exited: boolean,
  drained: boolean,
): ExecKillReport {
  if (!outcome) return { complete: false, method: `${killerMethod}, not done in time` };
  const complete = outcome.verified && (outcome.sessionEnded || (exited && drained));
  return { complete, method: outcome.method };
}

/**
 * Runs one command through Tasks.Exec with FIFOs for stdio: readers are open before the shim
 * opens the writers, Wait is issued before Start so no exit is missed, stdin is written after
 * Start (the shim opens its end then), output is drained to the end even past the cap.
 *
 * With a deadline, exec settles within the contract's grace after it whatever the command does:
 * a process that left the exec's tag and holds the output open would otherwise keep the FIFO
 * from ever ending. Our FIFO ends are closed at the bound, and `kill` says whether every process
 * is known gone.
 */
export async function runExec(target: ExecTarget, request: ExecRequest): Promise<ExecResult> {
  const { client, containerId, fifos, base } = target;
  const { argv, options } = request;
  if (options.signal?.aborted) throw options.signal.reason;
  const started = performance.now();
  const startedAtMs = Date.now();
  const execId = newExecId();
  const [stdoutPath, stderrPath, stdinPath] = await fifos.take(options.stdin === undefined ? 2 : 3);
  const paths = { stdin: stdinPath ?? "", stdout: stdoutPath!, stderr: stderrPath! };
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  const streams: Socket[] = [];
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  using bound = new SettleBound(deadline.signal);
  let created = false;
  let outputHeld = false;
  try {
    // Both at once; whichever opened is in `streams` before a failure is thrown, so it is closed.
    const opened = await Promise.allSettled([
      openFifoReader(paths.stdout),
      openFifoReader(paths.stderr),
    ]);
    for (const o of opened) if (o.status === "fulfilled") streams.push(o.value);
    for (const o of opened) if (o.status === "rejected") throw o.reason;
    const [stdout, stderr] = streams as [Socket, Socket];
    const drained = Promise.all([
      drain(stdout, (c) => collector.push("stdout", c)),
      drain(stderr, (c) => collector.push("stderr", c)),
    ]);

    const spec: OciProcess = {
      ...base,
      args: argv,
      env: mergeEnv(base.env, options.env, execId),
      cwd: options.cwd ?? base.cwd,
    };
    await client.exec(containerId, execId, paths, {
      type_url: processTypeUrl,
      value: Buffer.from(JSON.stringify(spec)),
    });
    created = true;
    const exited = client.wait(containerId, execId);
    // An early rejection must not go unhandled while Start is in flight.
    exited.catch(() => {});

    let killing: Promise<TreeKillOutcome> | undefined;
    let killed: (outcome: Promise<TreeKillOutcome>) => void = () => {};
    // Once the killer is done, whatever still holds the output is not one of the processes it
    // found: waiting for the output to end is then cut short.
    const afterKill = new Promise<TreeKillOutcome>((resolve) => {
      killed = resolve;
    }).then(() => bound.fromNow(settleMilestones.drainAfterKill));
    const onDeadline = () => {
      killing ??= killExecTree(target, execId, execId, startedAtMs, {
        killerMs: settleMilestones.killer,
        fallbackMs: settleMilestones.drain,
      });
      killed(killing);
    };
    deadline.signal.addEventListener("abort", onDeadline, { once: true });
    if (deadline.signal.aborted) onDeadline();

    try {
      await client.startProcess(containerId, execId);
    } catch (error) {
      const notStarted = startFailure(error);
      if (!notStarted) throw error;
      // A shell would answer 127 / 126 too: a missing program is a result, not an engine error.
      return {
        exitCode: notStarted,
        stdout: "",
        stderr: `${argv[0]}: ${grpcDetails(error)}\n`,
        timedOut: false,
        truncated: false,
        durationMs: Math.round(performance.now() - started),
      };
    }
    if (paths.stdin && options.stdin !== undefined) {
      const data = typeof options.stdin === "string" ? Buffer.from(options.stdin) : options.stdin;
      const giveUp = bound.after(settleMilestones.drain);
      await writeFifo(paths.stdin, data, Promise.race([exited, giveUp]), giveUp);
      await client.closeStdin(containerId, execId).catch(() => {});
    }

    const exit = await bound.within(exited, settleMilestones.drain);
    const output = await bound.within(drained, settleMilestones.drain, afterKill);
    outputHeld = !output.settled;
    deadline.signal.removeEventListener("abort", onDeadline);
    const kill = killing && (await bound.within(killing, settleMilestones.settle));

    if (deadline.abortedByCaller) throw deadline.callerReason;
    // Not exited by the bound: it was sent SIGKILL at the deadline.
    const exitStatus = exit.settled ? exit.value : 137;
    const oomKilled = exitStatus !== 0 && (await target.oomWatch?.killedSinceLastLook()) === true;
    // The OOM killer sends SIGKILL; a user-space kernel (gVisor) dies whole and its shim reports
    // only a failed wait, so the kill is reported as what it was.
    const result = execResultOf({
      exitCode: oomKilled ? 137 : exitStatus,
      collector,
      deadline,
      startedAt: started,
      ...(oomKilled ? { limitExceeded: "memory" as const } : {}),
    });
    if (kill) {
      result.kill = killReport(kill.settled ? kill.value : undefined, exit.settled, output.settled);
    }
    return result;
  } finally {
    // Our read ends: closing them is what ends the drain of output an escaped process holds.
    for (const s of streams) s.destroy();
    if (created) {
      // Gone already when the task died with it. While a process still holds the output, the
      // shim waits a while for it before it deletes: that goes on without us.
      const deleted = client.deleteProcess(containerId, execId).catch(() => {});
      if (!outputHeld) await bound.within(deleted, settleMilestones.settle);
    }
    // Not awaited: the result does not depend on it, and destroySession removes the directory.
    for (const path of Object.values(paths)) {
      if (path) rm(path, { force: true }).catch(() => {});
    }
  }
}
