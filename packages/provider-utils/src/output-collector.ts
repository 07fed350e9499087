/**
 * Keeps at most `maxBytes` of stdout and stderr together, hands exactly the kept bytes to the
 * streaming callbacks, and drops the rest, so that a command that prints forever costs bounded
 * memory. The producer should keep draining the streams after the cap so the command never blocks.
 */
export class OutputCollector {
  private readonly chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  private kept = 0;
  truncated = false;

  constructor(
    private readonly maxBytes: number,
    private readonly callbacks: {
      onStdout?: (chunk: Uint8Array) => void;
      onStderr?: (chunk: Uint8Array) => void;
    } = {},
  ) {}

  push(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    const room = this.maxBytes - this.kept;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    let piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (piece.byteLength > room) {
      piece = piece.subarray(0, room);
      this.truncated = true;
    }
    // Copy: the producer may reuse its buffer.
    const copy = Buffer.from(piece);
    this.chunks[stream].push(copy);
    this.kept += copy.byteLength;
    const callback = stream === "stdout" ? this.callbacks.onStdout : this.callbacks.onStderr;
    try {
      callback?.(copy);
    } catch (error) {
      // A caller's callback must not break the stream that feeds every other consumer.
      process.emitWarning(`exec ${stream} callback threw: ${String(error)}`);
    }
  }

  text(stream: "stdout" | "stderr"): string {
    return Buffer.concat(this.chunks[stream]).toString("utf8");
  }
}
