import { closeSync, constants, open } from "node:fs";
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
 * Writes `data` into a FIFO, then closes it. The shim opens its read end on its own schedule,
 * after Start has returned, so the write end is opened blocking (on the thread pool): it completes
 * the moment the shim opens. If the command ends first (`ended` settles), opening the read end
 * here releases the blocked open and nothing is written. Write errors are swallowed: a command
 * that exits without reading its stdin is not the caller's failure. When `giveUp` settles first,
 * the write is abandoned and the pipe closed (a process that holds stdin without reading).
 */
export async function writeFifo(
  path: string,
  data: Uint8Array,
  ended: Promise<unknown>,
  giveUp: Promise<unknown> = new Promise(() => {}),
): Promise<void> {
  const opening = openFd(path, constants.O_WRONLY);
  let commandEnded = false;
  const release = ended
    .then(
      () => undefined,
      () => undefined,
    )
    .then(async () => {
      commandEnded = true;
      // Our own reader lets the blocked open finish; closed again at once.
      const reader = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(
        () => undefined,
      );
      const fd = await opening.catch(() => undefined);
      if (reader !== undefined) closeSync(reader);
      return fd;
    });
  const fd = await Promise.race([opening, release]);
  if (fd === undefined) return;
  if (commandEnded) {
    closeSync(fd);
    return;
  }
  const socket = new Socket({ fd, readable: false, writable: true });
  await new Promise<void>((resolve) => {
    socket.on("error", () => resolve());
    socket.write(data, () => resolve());
    giveUp.then(
      () => resolve(),
      () => resolve(),
    );
  });
  socket.destroy();
}
