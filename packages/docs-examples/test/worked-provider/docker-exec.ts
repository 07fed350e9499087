import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import {
  type ExecKillReport,
  type ExecRequest,
  type ExecResult,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import {
  ExecDeadline,
  execResultOf,
  execTagVariable,
  OutputCollector,
} from "@cadre/agent-runtime-provider-utils";
import type { DockerApi } from "./docker-api.js";
import { killExecTree } from "./exec-kill.js";

/** One session as an exec needs it. */
export interface ExecTarget {
  api: DockerApi;
  /** The session id, which is also its container's name. */
  id: string;
  /** Docker's id of the session's container, checked to be this provider's session. */
  containerId: string;
  providerId: string;
  /** Whether this provider instance stopped or removed the session meanwhile. */
  haltedHere(): boolean;
}

/**
 * Runs one command as a Docker exec with its output attached. A deadline or an abort kills the
 * command's whole tree (exec-kill.ts) and the result says how. A command that did not run (the
 * session stopped or went under it) is an error, never an exit code.
 */
export async function runExec(target: ExecTarget, request: ExecRequest): Promise<ExecResult> {
  const startedAt = performance.now();
  const startedAtMs = Date.now();
  const { argv, options } = request;
  using deadline = new ExecDeadline(options.timeoutMs, options.signal);
  if (deadline.abortedByCaller) throw deadline.callerReason;

  const tag = randomBytes(12).toString("hex");
  const container = target.api.docker.getContainer(target.containerId);
  const exec = await container
    .exec({
      Cmd: argv,
      Env: [
        ...Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`),
        `${execTagVariable}=${tag}`,
      ],
      ...(options.cwd ? { WorkingDir: options.cwd } : {}),
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    })
    .catch(async (error) => {
      throw (await sessionEnded(target)) ?? target.api.failure(error, "create an exec");
    });
  const stream = (await exec
    .start({ hijack: true, stdin: true, Detach: false, Tty: false })
    .catch(async (error) => {
      throw (await sessionEnded(target)) ?? target.api.failure(error, "start an exec");
    })) as Duplex;

  const collector = new OutputCollector(options.maxOutputBytes, {
    onStdout: options.onStdout,
    onStderr: options.onStderr,
  });
  const ended = target.api.demultiplex(stream, (name, chunk) => collector.push(name, chunk));
  // Everything there is, then EOF: the command never waits for more.
  stream.end(toBuffer(options.stdin));

  let killReport: ExecKillReport | undefined;
  const kill = async () => {
    killReport = await killExecTree(target, tag, startedAtMs, ended);
    stream.destroy();
  };
  const killing = deadline.signal.aborted
    ? kill()
    : new Promise<void>((resolve, reject) => {
        const fire = () => kill().then(resolve, reject);
        deadline.signal.addEventListener("abort", fire, { once: true });
        void ended.then(() => {
          if (!deadline.signal.aborted) {
            deadline.signal.removeEventListener("abort", fire);
            resolve();
          }
        });
      });
  await ended;
  await killing;
  if (deadline.abortedByCaller) throw deadline.callerReason;
  if (killReport) {
    const result = execResultOf({ exitCode: 137, collector, deadline, startedAt });
    result.kill = killReport;
    return result;
  }

  const { ExitCode: exitCode, Running: running } = await exec.inspect().catch(async (error) => {
    throw (await sessionEnded(target)) ?? target.api.failure(error, "inspect an exec");
  });
  // No exit code: the exec never ended on its own, its session went under it.
  if (running || exitCode === null) {
    throw (
      (await sessionEnded(target)) ??
      target.api.failure(new Error("the exec's output ended before the exec"), "run an exec")
    );
  }
  // A signal the provider did not send: the command's own, unless the session ended under it.
  if (exitCode > 128) {
    const gone = await sessionEnded(target);
    if (gone) throw gone;
  }
  return execResultOf({
    exitCode: startFailureCode(exitCode, collector.text("stdout")),
    collector,
    deadline,
    startedAt,
  });
}

/**
 * Docker ends an exec whose program the runtime cannot start with 126 and the runtime's words on
 * stdout, for a program that is not there too; a shell says 127 for that, as the contract asks.
 */
function startFailureCode(exitCode: number, stdout: string): number {
  const missing =
    exitCode === 126 &&
    stdout.startsWith("OCI runtime exec failed") &&
    /executable file not found|no such file or directory/.test(stdout);
  return missing ? 127 : exitCode;
}

/** The error for a session that is no longer running, or undefined while it runs. */
async function sessionEnded(
  target: ExecTarget,
): Promise<SessionNotFoundError | SessionNotRunningError | undefined> {
  const container = await target.api.session(target.id);
  if (!container || container.id !== target.containerId) {
    return new SessionNotFoundError(target.id, { providerId: target.providerId });
  }
  if (!container.running || target.haltedHere()) {
    return new SessionNotRunningError(target.id, "stopped", { providerId: target.providerId });
  }
  return undefined;
}

function toBuffer(stdin: string | Uint8Array | undefined): Buffer {
  if (stdin === undefined) return Buffer.alloc(0);
  return typeof stdin === "string" ? Buffer.from(stdin, "utf8") : Buffer.from(stdin);
}
