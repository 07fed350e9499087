import { randomBytes } from "node:crypto";
import type { Duplex, Readable } from "node:stream";
import type { ExecRequest, ExecResult } from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  execTagVariable,
  OutputCollector,
  treeKillArgv,
} from "@cadre/agent-runtime-provider-utils";
import type Docker from "dockerode";
import { execCapture, readFrames, waitForExitCode } from "./exec-capture.js";
import { exitCodeForStartFailure } from "./exec-start-failure.js";
import { FrameParser } from "./frame-parser.js";

/** What the runner needs from the provider for one session. */
export interface ExecTarget {
  container: Docker.Container;
  /** Maps an error of a Docker call to the contract's errors. */
  toError(error: unknown, action: string): Error;
  /** Last resort when the exec's processes cannot be killed one by one: kills every process. */
  restartSession(): Promise<void>;
  /**
   * Called after an exit that the provider did not cause and that may come from the memory limit
   * (137; under gVisor also 128, its exec's answer when the whole sandbox was killed), or with
   * undefined when the container stopped under the exec: was it the memory limit?
   */
  wasOomKilled(exitCode: number | undefined): Promise<boolean>;
  /**
   * Resolves when the container stops, for runtimes whose exec output stays open when the whole
   * sandbox dies (gVisor); omitted where the output ends with the container (runc).
   */
  containerStopped?(signal: AbortSignal): Promise<void>;
  /** The error of an exec whose container stopped under it. */
  notRunning(): Error;
  /**
   * After a command ended by a signal that the provider did not send: the error to reject with
   * when the session ended under it (container stopped or removed, daemon gone), else undefined.
   */
  sessionEnded(): Promise<Error | undefined>;
}

/** How long the output may stay open after the kill before the whole session is restarted. */
const drainAfterKillMs = 3000;

export async function runExec(target: ExecTarget, request: ExecRequest): Promise<ExecResult> {
  const started = performance.now();
  const { argv, options } = request;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;

  const stdin = toBuffer(options.stdin);
  const marker = randomBytes(12).toString("hex");
  const exec = await target.container
    .exec({
      Cmd: argv,
      AttachStdin: stdin.length > 0,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Env: [
        ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        `${execTagVariable}=${marker}`,
      ],
      ...(options.cwd ? { WorkingDir: options.cwd } : {}),
    })
    .catch((error: unknown) => {
      throw target.toError(error, "create an exec");
    });

  const stream = (await exec
    .start({ hijack: stdin.length > 0, stdin: stdin.length > 0, Detach: false, Tty: false })
    .catch((error: unknown) => {
      throw target.toError(error, "start an exec");
    })) as Duplex | Readable;

  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  const parser = new FrameParser((name, chunk) => collector.push(name, chunk));
  const ended = readFrames(stream, parser);
  if (stdin.length > 0) (stream as Duplex).end(stdin);

  let killedByUs = false;
  const kill = async () => {
    killedByUs = true;
    await killExecTree(target, marker, ended, () => stream.destroy());
  };
  const killing = new Promise<void>((resolve, reject) => {
    const onDeadline = () => kill().then(resolve, reject);
    if (deadline.signal.aborted) onDeadline();
    else deadline.signal.addEventListener("abort", onDeadline, { once: true });
    // No deadline fired before the output ended: nothing to kill.
    void ended.then(() => {
      if (!deadline.signal.aborted) {
        deadline.signal.removeEventListener("abort", onDeadline);
        resolve();
      }
    });
  });
  using watch = new DisposableAbortController();
  const stopped = target.containerStopped?.(watch.signal).then(() => "stopped" as const);
  const first = await Promise.race([
    ended.then(() => "ended" as const),
    ...(stopped ? [stopped] : []),
  ]);
  if (first === "stopped" && !killedByUs) {
    stream.destroy();
    if (deadline.abortedByCaller) throw deadline.callerReason;
    if (!(await target.wasOomKilled(undefined))) throw target.notRunning();
    return execResultOf({
      exitCode: 137,
      collector,
      deadline,
      startedAt: started,
      limitExceeded: "memory",
    });
  }
  await ended;
  await killing;

  if (deadline.abortedByCaller) throw deadline.callerReason;

  let exitCode = 137;
  let limitExceeded: ExecResult["limitExceeded"];
  if (!killedByUs) {
    const recorded = await waitForExitCode(exec).catch((error: unknown) => {
      throw target.toError(error, "inspect an exec");
    });
    if (recorded === undefined) {
      // The container died under the exec (gVisor's whole sandbox is killed at its memory limit).
      if (await target.wasOomKilled(undefined)) limitExceeded = "memory";
      else throw target.notRunning();
    } else {
      exitCode = exitCodeForStartFailure(recorded, collector.text("stdout"));
      if ((exitCode === 137 || exitCode === 128) && (await target.wasOomKilled(exitCode))) {
        exitCode = 137;
        limitExceeded = "memory";
      } else if (exitCode > 128) {
        // A stop, a removal or a daemon shutdown kills the command with its container: the call
        // failed, it did not produce a result.
        const ended = await target.sessionEnded();
        if (ended) throw ended;
      }
    }
  }

  return execResultOf({ exitCode, collector, deadline, startedAt: started, limitExceeded });
}

function toBuffer(stdin: string | Uint8Array | undefined): Buffer {
  if (stdin === undefined) return Buffer.alloc(0);
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : Buffer.from(stdin);
}

/**
 * Kills the exec's process tree from inside the container. When that is impossible (no shell in
 * the image, every pid taken) or the output stays open afterwards, restarts the session's
 * container, which kills every process in it.
 */
async function killExecTree(
  target: ExecTarget,
  marker: string,
  ended: Promise<void>,
  closeOutput: () => void,
): Promise<void> {
  const killed = await runKiller(target.container, marker);
  if (killed && (await settlesWithin(ended, drainAfterKillMs))) return;
  await target.restartSession();
  // gVisor may keep the output of a process in a dead sandbox open: nothing is left to read.
  if (!(await settlesWithin(ended, drainAfterKillMs))) closeOutput();
  await ended;
}

class DisposableAbortController extends AbortController implements Disposable {
  [Symbol.dispose](): void {
    this.abort();
  }
}

async function runKiller(container: Docker.Container, marker: string): Promise<boolean> {
  try {
    return (await execCapture(container, treeKillArgv(marker))).exitCode === 0;
  } catch {
    return false;
  }
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
