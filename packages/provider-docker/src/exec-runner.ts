import { randomBytes } from "node:crypto";
import type { ExecKillReport, ExecRequest, ExecResult } from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  execTagVariable,
  OutputCollector,
} from "@cadre/agent-runtime-provider-utils";
import type { ContainerRef, DockerClient } from "./docker-client.js";
import { killExecTree } from "./exec-kill.js";
import {
  killedByMemoryLimit,
  notRunning,
  sandboxStopped,
  sessionEndedError,
} from "./exec-outcome.js";
import { exitCodeForStartFailure } from "./exec-start-failure.js";
import type { DockerRuntime } from "./options.js";

/** The session an exec runs in: its verified container, its runtime, and who stopped it. */
export interface ExecSession extends ContainerRef {
  runtime: DockerRuntime;
  /** Whether this provider instance is stopping or has stopped the session (asked at the end). */
  haltedHere(): boolean;
}

/**
 * Runs one command in the session: three Engine API calls on the fast path (create, start with
 * the output attached, inspect). A timeout or an abort kills the command's process tree
 * (exec-kill.ts); an exit the provider did not cause is checked against the memory limit and the
 * end of the session (exec-outcome.ts).
 */
export async function runExec(
  client: DockerClient,
  session: ExecSession,
  request: ExecRequest,
): Promise<ExecResult> {
  const started = performance.now();
  const startedAtMs = Date.now();
  const { argv, options } = request;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;

  const marker = randomBytes(12).toString("hex");
  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  const exec = await client.attachExec(
    session,
    {
      argv,
      env: [
        ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        `${execTagVariable}=${marker}`,
      ],
      cwd: options.cwd,
      stdin: toBuffer(options.stdin),
    },
    (name, chunk) => collector.push(name, chunk),
  );

  let killedByUs = false;
  let killReport: ExecKillReport | undefined;
  const kill = async () => {
    killedByUs = true;
    killReport = await killExecTree(client, session, { marker, startedAtMs }, exec);
  };
  const killing = new Promise<void>((resolve, reject) => {
    const onDeadline = () => kill().then(resolve, reject);
    if (deadline.signal.aborted) onDeadline();
    else deadline.signal.addEventListener("abort", onDeadline, { once: true });
    // No deadline fired before the output ended: nothing to kill.
    void exec.ended.then(() => {
      if (!deadline.signal.aborted) {
        deadline.signal.removeEventListener("abort", onDeadline);
        resolve();
      }
    });
  });
  using watch = new DisposableAbortController();
  const stopped =
    session.runtime === "runsc"
      ? sandboxStopped(client, session, watch.signal).then(() => "stopped" as const)
      : undefined;
  const first = await Promise.race([
    exec.ended.then(() => "ended" as const),
    ...(stopped ? [stopped] : []),
  ]);
  if (first === "stopped" && !killedByUs) {
    exec.closeOutput();
    if (deadline.abortedByCaller) throw deadline.callerReason;
    if (!(await killedByMemoryLimit(client, session, undefined))) throw notRunning(client, session);
    return execResultOf({
      exitCode: 137,
      collector,
      deadline,
      startedAt: started,
      limitExceeded: "memory",
    });
  }
  await exec.ended;
  await killing;

  if (deadline.abortedByCaller) throw deadline.callerReason;

  let exitCode = 137;
  let limitExceeded: ExecResult["limitExceeded"];
  if (!killedByUs) {
    const recorded = await exec.exitCode();
    if (recorded === undefined) {
      // The container died under the exec (gVisor's whole sandbox is killed at its memory limit).
      if (await killedByMemoryLimit(client, session, undefined)) limitExceeded = "memory";
      else throw notRunning(client, session);
    } else {
      exitCode = exitCodeForStartFailure(recorded, collector.text("stdout"));
      if (await killedByMemoryLimit(client, session, exitCode)) {
        exitCode = 137;
        limitExceeded = "memory";
      } else if (exitCode > 128) {
        // A stop, a removal or a daemon shutdown kills the command with its container: the call
        // failed, it did not produce a result.
        const ended = await sessionEndedError(client, session);
        if (ended) throw ended;
      }
    }
  }

  const result = execResultOf({ exitCode, collector, deadline, startedAt: started, limitExceeded });
  if (killReport) result.kill = killReport;
  return result;
}

function toBuffer(stdin: string | Uint8Array | undefined): Buffer {
  if (stdin === undefined) return Buffer.alloc(0);
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : Buffer.from(stdin);
}

class DisposableAbortController extends AbortController implements Disposable {
  [Symbol.dispose](): void {
    this.abort();
  }
}
