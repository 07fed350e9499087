import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { followProcess, noteExit, processesOf, type StdinForwarding } from "./follow-process.js";
import { fallbackTerminalSize, terminalEnv, terminalSize } from "./terminal.js";
import { UsageError } from "./usage-error.js";

/** -i and -t of `run` and `exec`. */
export const terminalFlagSpec = {
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
} as const;

/** The paragraph of `run --help` and `exec --help` on -i and -t. */
export const terminalHelp = `With -t, CMD runs on a pseudo-terminal of this terminal's size (resized with it), and with
-it every key goes to it as typed (this terminal in raw mode until CMD ends, on every way out;
Ctrl-C is CMD's own). -t needs a terminal on stdin. -i alone forwards a terminal's lines as they
are typed (Ctrl-D ends them, Ctrl-C stops CMD); a pipe or a file is forwarded as without it.
On a terminal CMD gets TERM=$TERM (else xterm) unless --env sets it.`;

/** How `run` or `exec` runs the command when -i or -t asks for more than the exec API gives. */
export interface ProcessMode {
  /** On a pseudo-terminal of the size of the terminal here. */
  pty: boolean;
  stdin: StdinForwarding;
}

/**
 * What -i and -t mean here, or undefined for the exec API (stdin read whole when it is a pipe or
 * a file, as without them):
 * - -t: the command on a PTY of the terminal's size, its output streamed, resized on SIGWINCH,
 *   TERM this terminal's type; stdin must be a terminal (a pipe has no size, no keys, and no
 *   mode to put back);
 * - -it: also every key forwarded as typed, the terminal here in raw mode meanwhile;
 * - -i alone: stdin forwarded as it comes when it is a terminal (lines as they are typed, Ctrl-D
 *   ends it, Ctrl-C stops the command); a pipe or a file is forwarded as without -i.
 */
export function processMode(
  values: { interactive?: boolean | undefined; tty?: boolean | undefined },
  command: string,
): ProcessMode | undefined {
  const stdinIsTerminal = process.stdin.isTTY === true;
  if (values.tty) {
    if (!stdinIsTerminal) {
      throw new UsageError(
        `-t gives the command a terminal and needs one here, but stdin is not a terminal; without -t, ${command} -i forwards a pipe or a file`,
        command,
      );
    }
    return { pty: true, stdin: values.interactive ? "raw" : "none" };
  }
  if (values.interactive && stdinIsTerminal) return { pty: false, stdin: "stream" };
  return undefined;
}

export interface ProcessExecOptions {
  env?: Record<string, string> | undefined;
  /** The session's own environment sets TERM: a PTY's command keeps it. */
  sessionSetsTerm?: boolean;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  signal: AbortSignal;
}

/**
 * Runs argv in the session as a process (the processes API) followed as `mode` says, and returns
 * its exit status. An interrupt (the signal) kills its whole tree, then rethrows the interrupt.
 */
export async function processExec(
  provider: IsolationProvider,
  sessionId: string,
  argv: string[],
  mode: ProcessMode,
  options: ProcessExecOptions,
): Promise<number> {
  options.signal.throwIfAborted();
  const env = mode.pty && !options.sessionSetsTerm ? terminalEnv(options.env) : options.env;
  const handle = await processesOf(provider).spawn(sessionId, argv, {
    ...(env ? { env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(mode.pty ? { pty: terminalSize() ?? fallbackTerminalSize } : {}),
  });
  const end = await followProcess(handle, {
    stdin: mode.stdin,
    resize: mode.pty,
    detachKeys: false,
    signal: options.signal,
    onAbort: "kill",
  });
  options.signal.throwIfAborted();
  if (end.kind !== "exited") throw new Error("the command was left running"); // never: no detach here
  noteExit(end.exit);
  return end.exit.exitCode;
}
