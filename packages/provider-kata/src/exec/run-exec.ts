import { rm } from "node:fs/promises";
import type { Socket } from "node:net";
import type { ExecRequest, ExecResult } from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  execTagVariable,
  OutputCollector,
  treeKillArgv,
} from "@cadre/agent-runtime-provider-utils";
import type { ContainerdClient } from "../containerd/client.js";
import { grpcDetails } from "../containerd/grpc-errors.js";
import type { OomWatch } from "../host/cgroup-oom.js";
import type { FifoReserve } from "../io/fifo-reserve.js";
import { openFifoReader, writeFifo } from "../io/fifo-stream.js";
import type { OciProcess } from "../spec/oci-types.js";
import { processTypeUrl } from "../spec/oci-types.js";
import { newExecId } from "./exec-id.js";

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

const SIGKILL = 9;

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

/** Starts a process in the task; resolves with its exit status once it has exited and been deleted. */
async function runDetached(target: ExecTarget, args: string[]): Promise<number> {
  const { client, containerId, base } = target;
  const execId = newExecId();
  const spec = { ...base, args, env: base.env };
  await client.exec(
    containerId,
    execId,
    { stdin: "", stdout: "", stderr: "" },
    {
      type_url: processTypeUrl,
      value: Buffer.from(JSON.stringify(spec)),
    },
  );
  try {
    const exited = client.wait(containerId, execId);
    await client.startProcess(containerId, execId);
    return await exited;
  } finally {
    await client.deleteProcess(containerId, execId).catch(() => {});
  }
}

/**
 * Kills an exec's whole process tree from inside the sandbox (the only place that sees it under
 * a VM runtime). Starting the killer can fail while a fork bomb holds every pid, and it exits
 * non-zero when it could not make sure: retry a while, then kill every process of the session,
 * which ends it. Never leave the tree running.
 */
async function killTree(target: ExecTarget, execId: string, tag: string): Promise<void> {
  await target.client.kill(target.containerId, SIGKILL, { execId }).catch(() => {});
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      if ((await runDetached(target, treeKillArgv(tag))) === 0) return;
    } catch {
      // not started: no pid free, or the task is gone
    }
    await new Promise((r) => setTimeout(r, Math.min(20 * (attempt + 1), 200)));
  }
  await target.client.kill(target.containerId, SIGKILL, { all: true }).catch(() => {});
}

/**
 * Runs one command through Tasks.Exec with FIFOs for stdio: readers are open before the shim
 * opens the writers, Wait is issued before Start so no exit is missed, stdin is written after
 * Start (the shim opens its end then), output is drained to the end even past the cap.
 */
export async function runExec(target: ExecTarget, request: ExecRequest): Promise<ExecResult> {
  const { client, containerId, fifos, base } = target;
  const { argv, options } = request;
  if (options.signal?.aborted) throw options.signal.reason;
  const started = performance.now();
  const execId = newExecId();
  const [stdoutPath, stderrPath, stdinPath] = await fifos.take(options.stdin === undefined ? 2 : 3);
  const paths = { stdin: stdinPath ?? "", stdout: stdoutPath!, stderr: stderrPath! };
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  const streams: Socket[] = [];
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  let created = false;
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

    let killing: Promise<void> | undefined;
    const onDeadline = () => {
      killing ??= killTree(target, execId, execId);
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
      await writeFifo(paths.stdin, data, exited);
      await client.closeStdin(containerId, execId).catch(() => {});
    }

    const exitStatus = await exited;
    await drained;
    deadline.signal.removeEventListener("abort", onDeadline);
    await killing;

    if (deadline.abortedByCaller) throw deadline.callerReason;
    const oomKilled = exitStatus !== 0 && (await target.oomWatch?.killedSinceLastLook()) === true;
    // The OOM killer sends SIGKILL; a user-space kernel (gVisor) dies whole and its shim reports
    // only a failed wait, so the kill is reported as what it was.
    return execResultOf({
      exitCode: oomKilled ? 137 : exitStatus,
      collector,
      deadline,
      startedAt: started,
      ...(oomKilled ? { limitExceeded: "memory" as const } : {}),
    });
  } finally {
    for (const s of streams) s.destroy();
    if (created) {
      // Gone already when the task died with it.
      await client.deleteProcess(containerId, execId).catch(() => {});
    }
    // Not awaited: the result does not depend on it, and destroySession removes the directory.
    for (const path of Object.values(paths)) {
      if (path) rm(path, { force: true }).catch(() => {});
    }
  }
}
