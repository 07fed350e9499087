import { constants } from "node:os";
import { progress } from "./output.js";

const exitCodes = {
  SIGINT: 128 + constants.signals.SIGINT,
  SIGTERM: 128 + constants.signals.SIGTERM,
  // The terminal went away (its window closed, an ssh link dropped): cleaned up as for the others.
  SIGHUP: 128 + constants.signals.SIGHUP,
};
export type HandledSignal = keyof typeof exitCodes;

export interface Interrupts {
  /** Aborts at the first SIGINT, SIGTERM or SIGHUP. */
  signal: AbortSignal;
  /** The signal received, if any. */
  received(): HandledSignal | undefined;
  /** 128 + the signal's number: the exit status after an interrupt. */
  exitCode(): number;
  dispose(): void;
}

/**
 * SIGINT (Ctrl-C), SIGTERM and SIGHUP for a command that must clean up before it exits: the first one
 * says `onFirst` and aborts the signal; a second one exits at once, after saying `onSecond`.
 */
export function catchInterrupts(onFirst: string, onSecond: string): Interrupts {
  const controller = new AbortController();
  let received: HandledSignal | undefined;
  const on = (signal: HandledSignal) => {
    if (received) {
      progress(`${signal} again: exiting now; ${onSecond}`);
      process.exit(exitCodes[signal]);
    }
    received = signal;
    progress(`${signal}: ${onFirst}`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  const onSigint = () => on("SIGINT");
  const onSigterm = () => on("SIGTERM");
  const onSighup = () => on("SIGHUP");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  process.on("SIGHUP", onSighup);
  return {
    signal: controller.signal,
    received: () => received,
    exitCode: () => (received ? exitCodes[received] : 1),
    dispose() {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.off("SIGHUP", onSighup);
    },
  };
}

/**
 * Runs `body` with interrupts caught (catchInterrupts): after an interrupt, its failure is the
 * interrupt's exit status (128 + n) instead of an error.
 */
export async function interruptible(
  onFirst: string,
  onSecond: string,
  body: (signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const interrupts = catchInterrupts(onFirst, onSecond);
  try {
    return await body(interrupts.signal);
  } catch (error) {
    if (interrupts.received()) return interrupts.exitCode();
    throw error;
  } finally {
    interrupts.dispose();
  }
}
