import type { WriteStream } from "node:tty";

export interface TerminalSize {
  rows: number;
  cols: number;
}

/**
 * TERM for a command on a PTY unless its environment already sets one: this terminal's type,
 * which draws what the command writes (else "xterm", as `docker run -t` sets it).
 */
export function terminalEnv(env: Record<string, string> | undefined): Record<string, string> {
  if (env?.TERM !== undefined) return env;
  return { ...env, TERM: process.env.TERM || "xterm" };
}

/** The size a PTY gets when no terminal here tells one (and no --rows/--cols): a VT100's. */
export const fallbackTerminalSize: TerminalSize = { rows: 24, cols: 80 };

/**
 * The terminal this process writes to, whose size a PTY in the session takes: stdout when it is
 * one, else stderr (`id=$(cadre-runtime spawn --tty ...)` leaves stderr on the terminal). Node
 * reads the size of an output stream only; stdin, a terminal too in raw mode, is the same device
 * whenever a user sits at it.
 */
function sizedTerminal(): WriteStream | undefined {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.isTTY && stream.rows > 0 && stream.columns > 0) return stream;
  }
  return undefined;
}

/** The size of the terminal here, within what a PTY in a session may be (1 to 1000 a side). */
export function terminalSize(): TerminalSize | undefined {
  const tty = sizedTerminal();
  if (!tty) return undefined;
  const side = (n: number) => Math.min(Math.max(Math.trunc(n), 1), 1000);
  return { rows: side(tty.rows), cols: side(tty.columns) };
}

/**
 * Calls `onResize` with the terminal's new size after each SIGWINCH (Node reads the size again
 * and emits "resize" on a terminal's output stream). Returns what stops it.
 */
export function onTerminalResize(onResize: (size: TerminalSize) => void): () => void {
  const tty = sizedTerminal();
  if (!tty) return () => {};
  const listener = () => {
    const size = terminalSize();
    if (size) onResize(size);
  };
  tty.on("resize", listener);
  return () => tty.off("resize", listener);
}

/**
 * Puts the terminal on stdin in raw mode (no echo, no line editing, Ctrl-C and Ctrl-D are bytes
 * for the command's own terminal) and returns what restores it. The restore runs once, whichever
 * comes first: the caller's finally, or this process's exit (a second signal's process.exit, an
 * error nothing caught), so that no exit path leaves the user's terminal raw.
 */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY || stdin.isRaw) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off("exit", restore);
    try {
      stdin.setRawMode(false);
    } catch {
      // The terminal is gone (a hang-up): nothing is left to restore.
    }
  };
  process.once("exit", restore);
  return restore;
}
