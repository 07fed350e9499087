import { randomBytes } from "node:crypto";
import type { Duplex, Readable } from "node:stream";
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
  treeKillArgv,
  treeKillCleanLine,
} from "@cadre/agent-runtime-provider-utils";
import type Docker from "dockerode";
import { readFrames, runHelper, waitForExitCode } from "./exec-capture.js";
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

/**
 * Time the kill may take after the deadline: the contract's grace, less a margin for building the
 * result on a loaded host. Within it: the killer, the output closing, and if need be a restart.
 */
const killBudgetMs = execKillGraceMs - 750;
/** The killer runs on the tenant's /bin/sh: past this it is taken as failed. */
const killerLimits = { timeoutMs: 2500, maxOutputBytes: 4096 };
/** How long the output may stay open after a clean kill before the session is restarted. */
const drainAfterKillMs = 1000;
/** After a restart, how long gVisor may keep a dead sandbox's output open before we close it. */
const drainAfterRestartMs = 500;

const killerMethod = "exec tag, descendants and orphans, killed from inside the sandbox";

export async function runExec(target: ExecTarget, request: ExecRequest): Promise<ExecResult> {
  const started = performance.now();
  const startedAtMs = Date.now();
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
  let killReport: ExecKillReport | undefined;
  const kill = async () => {
    killedByUs = true;
    killReport = await killExecTree(target, marker, startedAtMs, ended, () => stream.destroy());
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

  const result = execResultOf({ exitCode, collector, deadline, startedAt: started, limitExceeded });
  if (killReport) result.kill = killReport;
  return result;
}

function toBuffer(stdin: string | Uint8Array | undefined): Buffer {
  if (stdin === undefined) return Buffer.alloc(0);
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : Buffer.from(stdin);
}

/**
 * Kills the exec's processes from inside the container (see treeKillArgv), within the kill
 * budget. When the killer cannot run, fails, is cut short or leaves something, or the output
 * stays open afterwards, restarts the session's container, which kills every process in it.
 * `complete` is true only when the killer said it verified nothing is left, or the restart
 * finished; past the budget the exec settles with `complete: false` and the restart goes on.
 */
async function killExecTree(
  target: ExecTarget,
  marker: string,
  startedAtMs: number,
  ended: Promise<void>,
  closeOutput: () => void,
): Promise<ExecKillReport> {
  const giveUpAt = performance.now() + killBudgetMs;
  const remaining = () => Math.max(0, giveUpAt - performance.now());
  const killer = await runKiller(target.container, marker, startedAtMs, remaining());
  if (killer.clean && (await settlesWithin(ended, Math.min(drainAfterKillMs, remaining())))) {
    return { complete: true, method: killerMethod };
  }
  const why = killer.clean ? "the output stayed open" : killer.failure;
  const restart = target.restartSession().then(
    () => true,
    () => false,
  );
  const restarted = await settlesWithin(restart, remaining());
  if (restarted && (await restart)) {
    // gVisor may keep the output of a process in a dead sandbox open: nothing is left to read.
    if (!(await settlesWithin(ended, Math.min(drainAfterRestartMs, remaining())))) closeOutput();
    await ended;
    return { complete: true, method: `${killerMethod}; ${why}, so the session was restarted` };
  }
  closeOutput();
  await ended;
  const report: ExecKillReport = {
    complete: false,
    method: `${killerMethod}; ${why}, and restarting the session ${restarted ? "failed" : "did not finish in time"}`,
  };
  if (killer.survivors !== undefined) report.survivors = killer.survivors;
  return report;
}

interface KillerOutcome {
  clean: boolean;
  /** Why it is not clean, for the report's method. */
  failure: string;
  survivors?: number;
}

async function runKiller(
  container: Docker.Container,
  marker: string,
  startedAtMs: number,
  timeLeftMs: number,
): Promise<KillerOutcome> {
  let outcome: Awaited<ReturnType<typeof runHelper>>;
  try {
    outcome = await runHelper(
      container,
      treeKillArgv(marker, { orphansSince: startedAtMs, pid1IsInit: true }),
      {
        ...killerLimits,
        timeoutMs: Math.min(killerLimits.timeoutMs, timeLeftMs),
      },
    );
  } catch {
    return { clean: false, failure: "the killer could not start" };
  }
  const last = outcome.stdout.trimEnd().split("\n").at(-1) ?? "";
  if (outcome.exitCode === 0 && !outcome.cutShort && last === treeKillCleanLine) {
    return { clean: true, failure: "" };
  }
  if (outcome.cutShort) return { clean: false, failure: "the killer was cut short" };
  const left = /^cadre-tree-kill: left (\d+)$/.exec(last);
  if (left)
    return { clean: false, failure: "processes survived the killer", survivors: Number(left[1]) };
  return { clean: false, failure: "the killer could not make sure" };
}

class DisposableAbortController extends AbortController implements Disposable {
  [Symbol.dispose](): void {
    this.abort();
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
