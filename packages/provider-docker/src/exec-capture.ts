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

/** Runs a short helper command of the provider's own in the container and returns its stdout. */
export async function execCapture(
  container: Docker.Container,
  argv: string[],
): Promise<{ exitCode: number | undefined; stdout: string }> {
  const exec = await container.exec({
    Cmd: argv,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: false, Detach: false, Tty: false })) as Readable;
  const out: Buffer[] = [];
  await readFrames(
    stream,
    new FrameParser((name, chunk) => {
      if (name === "stdout") out.push(Buffer.from(chunk));
    }),
  );
  return { exitCode: await waitForExitCode(exec), stdout: Buffer.concat(out).toString("utf8") };
}
