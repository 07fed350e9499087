import { type ChildProcess, spawn } from "node:child_process";
import { BackendError, type ExecResult } from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  exitCodeForSignal,
  OutputCollector,
} from "@cadre/agent-runtime-provider-utils";
import { stubProviderId } from "./capabilities.js";
import { execTag, killTagged } from "./process-tree.js";

export interface ProcessRequest {
  argv: string[];
  cwd: string;
  /** The complete environment, tags included. */
  env: Record<string, string>;
  /** The value of CADRE_EXEC_ID in `env`. */
  execToken: string;
  stdin?: string | Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxOutputBytes: number;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
}

export interface RunningProcess {
  /** Settles once the command ended and, if it was killed, its whole tree is gone. */
  readonly result: Promise<ExecResult>;
  /** Kills the command's whole tree; resolves once nothing of it is alive. */
  kill(): Promise<void>;
}

/**
 * Output a background descendant writes after the command itself exited is read for this long;
 * then the pipes are closed so that `sh -c "daemon &"` returns like it does in a terminal.
 */
const drainAfterExitMs = 200;

/** Runs argv as a host process in its own process group, without a shell. */
export function runProcess(request: ProcessRequest): RunningProcess {
  const started = performance.now();
  const collector = new OutputCollector(request.maxOutputBytes, {
    onStdout: request.onStdout,
    onStderr: request.onStderr,
  });
  const deadline = new ExecDeadline(request.timeoutMs, request.signal);
  let child: ChildProcess | undefined;
  let killing: Promise<void> | undefined;

  const kill = (): Promise<void> => {
    killing ??= killTagged(execTag, request.execToken, child?.pid ? [child.pid] : []);
    return killing;
  };

  const result = new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const finish = async (failure?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(drainTimer);
      deadline.signal.removeEventListener("abort", onDeadline);
      deadline[Symbol.dispose]();
      if (killing) await killing;
      if (failure !== undefined) return reject(failure);
      if (deadline.abortedByCaller) return reject(deadline.callerReason);
      const signal = exit?.signal ?? undefined;
      const exitCode = exit?.code ?? (signal ? exitCodeForSignal(signal) : 1);
      resolve(
        execResultOf({ exitCode, collector, deadline, startedAt: started, signal: signal ?? null }),
      );
    };

    const onDeadline = () => void kill();
    deadline.signal.addEventListener("abort", onDeadline, { once: true });

    const [program = "", ...args] = request.argv;
    try {
      child = spawn(program, args, {
        cwd: request.cwd,
        env: request.env,
        detached: true,
        shell: false,
        stdio: ["pipe", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (error) {
      void finish(
        new BackendError(`The stub could not start ${JSON.stringify(program)}: ${String(error)}`, {
          providerId: stubProviderId,
          cause: error,
        }),
      );
      return;
    }
    const spawned = child;

    spawned.stdout?.on("data", (chunk: Buffer) => collector.push("stdout", chunk));
    spawned.stderr?.on("data", (chunk: Buffer) => collector.push("stderr", chunk));
    spawned.stdin?.on("error", () => {
      // The command exited or closed stdin without reading it all: not the caller's problem.
    });
    spawned.stdin?.end(request.stdin === undefined ? undefined : Buffer.from(request.stdin));

    spawned.on("error", (error: NodeJS.ErrnoException) => {
      if (spawned.pid !== undefined) return; // a failed kill or stdin write; exit still follows
      const notRunnable = shellLikeFailure(program, error);
      if (!notRunnable) {
        void finish(
          new BackendError(
            `The stub could not start ${JSON.stringify(program)}: ${error.message}. Check the host's process limits and try again.`,
            { providerId: stubProviderId, cause: error },
          ),
        );
        return;
      }
      collector.push("stderr", Buffer.from(notRunnable.message));
      exit = { code: notRunnable.exitCode, signal: null };
      void finish();
    });

    spawned.on("exit", (code, signal) => {
      exit = { code, signal };
      drainTimer = setTimeout(() => {
        spawned.stdout?.destroy();
        spawned.stderr?.destroy();
        void finish();
      }, drainAfterExitMs);
    });
    spawned.on("close", () => void finish());

    // Started already aborted (the caller checks first; this closes the race).
    if (deadline.signal.aborted) void kill();
  });

  return { result, kill };
}

/** The exit code and message a shell gives for a program it cannot run. */
function shellLikeFailure(
  program: string,
  error: NodeJS.ErrnoException,
): { exitCode: number; message: string } | undefined {
  if (error.code === "ENOENT") {
    return { exitCode: 127, message: `cadre-stub: ${program}: command not found\n` };
  }
  if (["EACCES", "ENOEXEC", "EISDIR", "ENOTDIR", "EPERM"].includes(error.code ?? "")) {
    return { exitCode: 126, message: `cadre-stub: ${program}: cannot execute (${error.code})\n` };
  }
  return undefined;
}
