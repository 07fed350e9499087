import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type {
  IsolationProvider,
  ProcessExit,
  ProcessHandle,
  ProviderProcesses,
} from "@cadre/agent-runtime-contract";
import { CommandError } from "./command-error.js";
import { progress } from "./output.js";
import { enterRawMode, onTerminalResize, terminalSize } from "./terminal.js";

/** The processes API of `provider`, or a CAPABILITY_MISMATCH that says which feature is missing. */
export function processesOf(provider: IsolationProvider): ProviderProcesses {
  if (!provider.processes) {
    throw new CommandError(
      `the ${provider.id} provider has no processes (capabilities().features.processes is false)`,
      "CAPABILITY_MISMATCH",
    );
  }
  return provider.processes;
}

/**
 * What of this process's stdin goes to the followed process:
 * - "none": nothing;
 * - "stream": each chunk as it comes (a pipe, a file, or a terminal in its normal line mode);
 *   its end closes the process's stdin (on a terminal process, its end-of-file character);
 * - "raw": the terminal on stdin in raw mode, every key as it is typed (Ctrl-C and Ctrl-D
 *   included, for the process's own terminal to act on); the mode is restored on every way out.
 */
export type StdinForwarding = "none" | "stream" | "raw";

export interface FollowOptions {
  stdin: StdinForwarding;
  /** Gives a terminal process the size of the terminal here, now and after each SIGWINCH. */
  resize: boolean;
  /** In raw mode, Ctrl-P Ctrl-Q (as `docker attach`) stops following; the process goes on. */
  detachKeys: boolean;
  /** Aborted by an interrupt: */
  signal: AbortSignal;
  /** ...which then kills the process's whole tree ("kill"), or stops following it ("detach"). */
  onAbort: "kill" | "detach";
}

export type FollowEnd =
  | { kind: "exited"; exit: ProcessExit }
  | { kind: "detached"; by: "keys" | "signal" };

const ctrlP = 0x10;
const ctrlQ = 0x11;

/**
 * Follows a process until it ends or this side stops following it: its stdout and stderr to
 * this process's, as they come (read at the pace the terminal or pipe takes them, which holds the
 * process back as a pipe would), this process's stdin to it (`stdin`), the terminal's size to a
 * terminal process (`resize`). Resolves with its exit, or with how it was left running.
 */
export async function followProcess(
  handle: ProcessHandle,
  options: FollowOptions,
): Promise<FollowEnd> {
  let detachedBy: "keys" | "signal" | undefined;
  let ended = false;
  const detach = (by: "keys" | "signal") => {
    if (detachedBy || ended) return;
    detachedBy = by;
    void handle.detach();
  };
  // Piped before anything else: a handle whose streams nobody reads drops output.
  const output = Promise.allSettled([
    pump(handle.stdout, process.stdout),
    pump(handle.stderr, process.stderr),
  ]);
  let stopResize = () => {};
  let restoreTerminal = () => {};
  let stopInput = () => {};
  const onAbort = () => {
    if (options.onAbort === "detach") detach("signal");
    else handle.kill().catch(() => {});
  };
  try {
    if (options.resize && handle.pty) {
      const size = terminalSize();
      if (size) handle.resize(size.rows, size.cols).catch(() => {});
      stopResize = onTerminalResize(({ rows, cols }) => {
        handle.resize(rows, cols).catch(() => {});
      });
    }
    if (options.stdin === "raw") restoreTerminal = enterRawMode();
    if (options.stdin !== "none") {
      stopInput = forwardInput(handle, {
        closeOnEnd: true,
        onDetachKeys:
          options.detachKeys && options.stdin === "raw" ? () => detach("keys") : undefined,
      });
    }
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });

    // The streams end with the process (after its last byte), with a detach, or with an error
    // of the session, which wait() then throws.
    await output;
    ended = true;
    if (detachedBy) return { kind: "detached", by: detachedBy };
    return { kind: "exited", exit: await handle.wait() };
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    stopResize();
    // The terminal's mode first: stdin, destroyed below, is the terminal it is set on.
    restoreTerminal();
    stopInput();
  }
}

function pump(from: Readable, to: NodeJS.WritableStream): Promise<void> {
  from.pipe(to, { end: false });
  return finished(from);
}

/**
 * Forwards this process's stdin to the process, a chunk at a time (the next one is read once the
 * last is on its way). Returns what stops it; stdin is not read again in this process after.
 */
function forwardInput(
  handle: ProcessHandle,
  { closeOnEnd, onDetachKeys }: { closeOnEnd: boolean; onDetachKeys: (() => void) | undefined },
): () => void {
  const stdin = process.stdin;
  let stopped = false;
  let heldCtrlP = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdin.pause();
    stdin.destroy();
  };
  /** The bytes to forward, without a Ctrl-P Ctrl-Q, which detaches. */
  const withoutDetachKeys = (chunk: Buffer): Buffer => {
    if (!onDetachKeys) return chunk;
    const out: number[] = [];
    for (const byte of chunk) {
      if (heldCtrlP) {
        heldCtrlP = false;
        if (byte === ctrlQ) {
          onDetachKeys();
          stop();
          return Buffer.from(out);
        }
        out.push(ctrlP);
      }
      if (byte === ctrlP) heldCtrlP = true;
      else out.push(byte);
    }
    return Buffer.from(out);
  };
  const onData = (chunk: Buffer) => {
    const data = withoutDetachKeys(chunk);
    if (data.length === 0) return;
    stdin.pause();
    handle.write(data).then(
      () => {
        if (!stopped) stdin.resume();
      },
      // The process ended or is no longer followed: there is nowhere for input to go.
      () => stop(),
    );
  };
  const onEnd = () => {
    if (closeOnEnd) handle.closeStdin().catch(() => {});
  };
  stdin.on("data", onData);
  stdin.once("end", onEnd);
  stdin.on("error", () => {});
  stdin.resume();
  return stop;
}

/** What stderr says when something other than the process itself ended it. */
export function noteExit(exit: ProcessExit): void {
  if (exit.timedOut) {
    progress(`the command timed out and was killed (${exit.signal ?? `exit ${exit.exitCode}`})`);
  }
}
