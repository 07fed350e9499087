import { type ChildProcess, spawn } from "node:child_process";
import {
  BackendError,
  type ExecKillReport,
  type ExecResult,
  execKillGraceMs,
  ResourceLimitError,
} from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  exitCodeForSignal,
  OutputCollector,
} from "@cadre/agent-runtime-provider-utils";
import { stubProviderId } from "./capabilities.js";
import { type KillOutcome, killScope } from "./process-kill.js";
import { ticksSinceBoot } from "./process-scan.js";
import { execTag } from "./process-tree.js";

export interface ProcessRequest {
  argv: string[];
  cwd: string;
  /** The complete environment, tags included. */
  env: Record<string, string>;
  /** The value of CADRE_EXEC_ID in `env`. */
  execToken: string;
  /** The session's scratch root: untagged processes started there by this exec are its own. */
  scratchRoot: string;
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

/**
 * How long killing a timed-out command's processes may take, and when the exec settles at the
 * latest after its deadline whatever the command did: both inside the contract's grace.
 */
const killBudgetMs = execKillGraceMs - 1_500;
const settleAfterDeadlineMs = execKillGraceMs - 500;

const killMethod = "exec tag, process group, ancestry and untagged processes in the scratch root";

/** Runs argv as a host process in its own process group, without a shell. */
export function runProcess(request: ProcessRequest): RunningProcess {
  const started = performance.now();
  const collector = new OutputCollector(request.maxOutputBytes, {
    onStdout: request.onStdout,
    onStderr: request.onStderr,
  });
  const deadline = new ExecDeadline(request.timeoutMs, request.signal);
  let child: ChildProcess | undefined;
  let killing: Promise<KillOutcome> | undefined;
  // Read before the spawn: every process of this exec starts at or after it.
  const startTicks = ticksSinceBoot();

  const kill = (): Promise<void> => {
    killing ??= startTicks.then((since) =>
      killScope(
        {
          tagName: execTag,
          tagValue: request.execToken,
          roots: child?.pid ? [child.pid] : [],
          directory: request.scratchRoot,
          directorySince: since,
        },
        killBudgetMs,
      ),
    );
    return killing.then(() => undefined);
  };

  const result = new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let settleTimer: NodeJS.Timeout | undefined;

    const finish = async (failure?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(drainTimer);
      clearTimeout(settleTimer);
      deadline.signal.removeEventListener("abort", onDeadline);
      deadline[Symbol.dispose]();
      const outcome = killing ? await killing : undefined;
      if (failure !== undefined) return reject(failure);
      if (deadline.abortedByCaller) return reject(deadline.callerReason);
      const signal = exit?.signal ?? (outcome ? "SIGKILL" : undefined);
      const exitCode = exit?.code ?? (signal ? exitCodeForSignal(signal) : 1);
      const result = execResultOf({
        exitCode,
        collector,
        deadline,
        startedAt: started,
        signal: signal ?? null,
      });
      if (deadline.timedOut && outcome) result.kill = killReport(outcome, outputHeld);
      resolve(result);
    };

    // At the deadline: kill, then settle once the kill is done and the command exited, without
    // waiting longer than the drain for pipes an escaped process may hold; at the latest after
    // the grace, whatever the command did.
    const onDeadline = () => {
      settleTimer = setTimeout(() => {
        closeOutput();
        void finish();
      }, settleAfterDeadlineMs);
      void kill().then(() => {
        if (exit) drainThenFinish();
      });
    };
    deadline.signal.addEventListener("abort", onDeadline, { once: true });
    // An output pipe still open once the kill is done is held by a process no scan found.
    let outputHeld = false;
    const closeOutput = () => {
      if (killing && !(child?.stdout?.closed && child?.stderr?.closed)) outputHeld = true;
      child?.stdout?.destroy();
      child?.stderr?.destroy();
    };
    const drainThenFinish = () => {
      clearTimeout(drainTimer);
      drainTimer = setTimeout(() => {
        closeOutput();
        void finish();
      }, drainAfterExitMs);
    };

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
      void finish(startFailure(program, error as NodeJS.ErrnoException));
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
        void finish(startFailure(program, error));
        return;
      }
      collector.push("stderr", Buffer.from(notRunnable.message));
      exit = { code: notRunnable.exitCode, signal: null };
      void finish();
    });

    spawned.on("exit", (code, signal) => {
      exit = { code, signal };
      // Killed: drain once the kill is done (output written just before it is still read).
      if (killing) void killing.then(drainThenFinish);
      else drainThenFinish();
    });
    spawned.on("close", () => void finish());

    // Started already aborted (the caller checks first; this closes the race).
    if (deadline.signal.aborted) void kill();
  });

  return { result, kill };
}

/**
 * `complete` only when the scan was verified, nothing survived, every process found still
 * carried the exec's tag (one that cleared its environment shows the command hides from the
 * scan, and it may have hidden others that also left the scratch root) and the output pipes
 * closed once they were dead (else a process no scan found still holds them).
 */
function killReport(outcome: KillOutcome, outputHeld: boolean): ExecKillReport {
  const report: ExecKillReport = {
    complete: outcome.verified && outcome.survivors === 0 && outcome.untagged === 0 && !outputHeld,
    method: killMethod,
  };
  if (outcome.survivors > 0) report.survivors = outcome.survivors;
  return report;
}

/**
 * Why the command could not start: the host (or this process's cgroup) out of processes or
 * memory is a limit, RESOURCE_LIMIT; anything else is the stub's own failure.
 */
function startFailure(program: string, error: NodeJS.ErrnoException): Error {
  const resource =
    error.code === "EAGAIN" ? "pids" : error.code === "ENOMEM" ? "memory" : undefined;
  if (resource) {
    const what = resource === "pids" ? "no process can be created" : "there is no memory left";
    return new ResourceLimitError(
      resource,
      `The stub could not start ${JSON.stringify(program)}: ${what} on this host or in this process's cgroup (${error.code}). Wait for other commands or sessions to end (destroySession frees their processes), or raise the limit, and run it again.`,
      { providerId: stubProviderId, cause: error },
    );
  }
  return new BackendError(
    `The stub could not start ${JSON.stringify(program)}: ${error.message}. Check the host's process limits and try again.`,
    { providerId: stubProviderId, cause: error },
  );
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
