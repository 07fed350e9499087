import type { Readable } from "node:stream";
import type Docker from "dockerode";
import { FrameParser } from "./frame-parser.js";

/** Exec inspects after the end of output until Docker has recorded the exit code. */
const eagerPolls = 3;
const exitCodePolls = 40;

/**
 * Docker may close an exec's output a moment before it records the exit code: inspects until the
 * exec is no longer running. The first few back to back (the exit is usually recorded within a
 * round trip or two, later under gVisor), then with a short growing pause, at most ~1.5 s in all.
 * Undefined when Docker never recorded one (the container died under the exec).
 */
export async function waitForExitCode(exec: Docker.Exec): Promise<number | undefined> {
  for (let attempt = 0; attempt < eagerPolls + exitCodePolls; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && typeof info.ExitCode === "number") return info.ExitCode;
    const paused = attempt - eagerPolls;
    if (paused >= 0)
      await new Promise((resolve) => setTimeout(resolve, Math.min(1 + paused * 2, 50)));
  }
  return undefined;
}

/** Resolves when Docker closes the output (every holder of the exec's stdout and stderr exited). */
export function readFrames(stream: Readable, parser: FrameParser): Promise<void> {
  return new Promise((resolve) => {
    stream.on("data", (chunk: Buffer) => parser.push(chunk));
    stream.once("end", () => resolve());
    stream.once("close", () => resolve());
    // A cut connection ends the output too; the exit code then comes from the exec inspect.
    stream.once("error", () => resolve());
  });
}

/** What a helper command may take: it runs on the tenant's binaries. */
export interface HelperLimits {
  /** How long to wait for its output to end. */
  timeoutMs: number;
  /** Output kept; past it the provider stops reading. */
  maxOutputBytes: number;
}

export interface HelperOutcome {
  /** Undefined when it did not end within the limits or Docker recorded no exit. */
  exitCode: number | undefined;
  stdout: string;
  /** It was still running at the time limit, or wrote more than the cap. */
  cutShort: boolean;
}

/**
 * Runs one of the provider's own helper commands in the session (the exec killer, the OOM
 * counter's fallback read). It runs on the tenant's binaries, whose /bin/sh may have been
 * replaced: at the time limit or the output cap the provider stops reading and reports it cut
 * short, and never buffers more than the cap. A helper cut short keeps running until it ends or
 * the session restarts or stops; the exec API has no kill.
 */
export async function runHelper(
  container: Docker.Container,
  argv: string[],
  limits: HelperLimits,
): Promise<HelperOutcome> {
  const out: Buffer[] = [];
  let kept = 0;
  let stream: Readable | undefined;
  let cutShort = false;
  const cutOutcome = (): HelperOutcome => ({
    exitCode: undefined,
    stdout: Buffer.concat(out).toString("utf8"),
    cutShort: true,
  });
  const stop = () => {
    cutShort = true;
    stream?.destroy();
  };
  const work = (async (): Promise<HelperOutcome> => {
    const exec = await container.exec({
      Cmd: argv,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    if (cutShort) return cutOutcome();
    stream = (await exec.start({ hijack: false, Detach: false, Tty: false })) as Readable;
    if (cutShort) stream.destroy();
    await readFrames(
      stream,
      new FrameParser((name, chunk) => {
        if (name !== "stdout" || cutShort) return;
        if (kept + chunk.length > limits.maxOutputBytes) return stop();
        out.push(Buffer.from(chunk));
        kept += chunk.length;
      }),
    );
    if (cutShort) return cutOutcome();
    const exitCode = await waitForExitCode(exec);
    return { exitCode, stdout: Buffer.concat(out).toString("utf8"), cutShort: false };
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<HelperOutcome>((resolve) => {
    timer = setTimeout(() => {
      stop();
      resolve(cutOutcome());
    }, limits.timeoutMs);
  });
  // After the time limit nobody awaits the work; its failure is of no interest then.
  work.catch(() => {});
  try {
    return await Promise.race([work, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
