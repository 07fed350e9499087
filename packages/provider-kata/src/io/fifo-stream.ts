import { constants, open } from "node:fs";
import { Socket } from "node:net";
import { promisify } from "node:util";

// The callback API gives a plain descriptor; a FileHandle would be closed by GC under the socket.
const openFd = promisify(open);

/**
 * Opens a FIFO's read end without blocking and returns it as a stream. Until the shim opens the
 * write end, epoll reports nothing, so no false end-of-file; when the shim closes it, the stream
 * ends. Reading runs on the event loop, never on the thread pool, so many execs cannot starve it.
 */
export async function openFifoReader(path: string): Promise<Socket> {
  const fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK);
  // The socket owns the descriptor from here on and closes it when destroyed.
  return new Socket({ fd, readable: true, writable: false });
}

/**
 * Writes `data` into a FIFO whose reader (the shim) is already open, then closes it. Errors are
 * swallowed: a command that exits without reading its stdin is not the caller's failure.
 */
export async function writeFifo(path: string, data: Uint8Array): Promise<void> {
  const fd = await openFd(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: false, writable: true });
  await new Promise<void>((resolve) => {
    socket.on("error", () => resolve());
    socket.write(data, () => resolve());
  });
  socket.destroy();
}
