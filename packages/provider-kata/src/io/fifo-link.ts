import { constants, open } from "node:fs";
import { rm } from "node:fs/promises";
import { Socket } from "node:net";
import { promisify } from "node:util";
import type { Stdio } from "../containerd/messages.js";
import type { FifoReserve } from "./fifo-reserve.js";

// The callback API gives a plain descriptor; a FileHandle would be closed by GC under the socket.
const openFd = promisify(open);

/** The host's ends of a process's stdio FIFOs, opened before the shim opens its own. */
export interface FifoLink {
  /** The paths to give containerd. */
  stdio: Stdio;
  /** What the process writes to its stdout. */
  output: Socket;
  /** What the process reads from its stdin. */
  input: Socket;
  /** Closes every end; the process's stdin ends once the shim lets go of its own end too. */
  close(): void;
  /** Removes the paths, once the shim has opened them (an open FIFO needs no name). */
  unlink(): void;
}

/**
 * Takes three fresh FIFOs of a session and opens the host's ends without blocking, before the
 * process exists, so that nothing it writes is missed and the shim never finds stdin without a
 * writer (which it would take for the end of it):
 * - stdout for reading, non-blocking: until the shim opens the write end epoll reports nothing,
 *   so no false end-of-file; when the shim closes it, the stream ends.
 * - stdin read-write, which never blocks on a FIFO; only the write side is used, and what is
 *   written before the shim reads waits in the pipe.
 * - stderr, which the shim needs whenever it has stdout: read and dropped, so that a process that
 *   writes there never blocks on a full pipe.
 * Reading and writing run on the event loop, never on the thread pool.
 */
export async function openFifoLink(fifos: FifoReserve): Promise<FifoLink> {
  const paths = (await fifos.take(3)) as [string, string, string];
  const [stdinPath, stdoutPath, stderrPath] = paths;
  const opened = await Promise.allSettled([
    openFd(stdoutPath, constants.O_RDONLY | constants.O_NONBLOCK),
    openFd(stdinPath, constants.O_RDWR | constants.O_NONBLOCK),
    openFd(stderrPath, constants.O_RDONLY | constants.O_NONBLOCK),
  ]);
  // The sockets own the descriptors from here on and close them when destroyed.
  const sockets = opened.map((o, i) =>
    o.status === "fulfilled"
      ? new Socket({ fd: o.value, readable: i !== 1, writable: i === 1 })
      : undefined,
  );
  const close = () => {
    for (const socket of sockets) socket?.destroy();
  };
  const unlink = () => {
    for (const path of paths) rm(path, { force: true }).catch(() => {});
  };
  for (const o of opened) {
    if (o.status === "rejected") {
      close();
      unlink();
      throw o.reason;
    }
  }
  const [output, input, errors] = sockets as [Socket, Socket, Socket];
  // Errors end the link (AgentLink listens); none may go unhandled after it closed.
  for (const socket of [output, input, errors]) socket.on("error", () => {});
  errors.resume();
  return {
    stdio: { stdin: stdinPath, stdout: stdoutPath, stderr: stderrPath },
    output,
    input,
    close,
    unlink,
  };
}
