import { CommandError } from "./command-error.js";

/**
 * The most stdin a command gets: the exec API takes stdin as bytes, so it is read whole before
 * the command starts (-i on a terminal, and -t, stream it through a process instead).
 */
export const maxForwardedStdinBytes = 64 * 1024 * 1024;

/**
 * This process's stdin, to hand to the command: read to its end when it is a pipe or a file;
 * undefined when it is a terminal (as `docker exec` without -i: a terminal never ends by
 * itself, and the command would wait for Ctrl-D before it even started).
 */
export async function forwardedStdin(signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const input = process.stdin;
  if (input.isTTY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  const onAbort = () => input.destroy();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxForwardedStdinBytes) {
        throw new CommandError(
          `stdin is larger than ${maxForwardedStdinBytes / 2 ** 20} MiB, the most a command gets (it is read whole before the command starts); copy the data into the session with "cadre-runtime cp" and read it from there`,
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    input.destroy();
  }
  signal?.throwIfAborted();
  return Buffer.concat(chunks, size);
}
