/**
 * Splits Docker's multiplexed attach stream (used when a container or exec has no TTY) into
 * stdout and stderr. Each frame is an 8-byte header, [stream, 0, 0, 0, size as uint32 BE], then
 * `size` bytes. Chunks from the socket may cut a header or a payload anywhere.
 */
export class FrameParser {
  private pending: Buffer = Buffer.alloc(0);
  private stream: 1 | 2 = 1;
  private remaining = 0;

  constructor(private readonly emit: (stream: "stdout" | "stderr", chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.remaining > 0) {
        const piece = data.subarray(0, this.remaining);
        this.remaining -= piece.length;
        data = data.subarray(piece.length);
        // Stream 0 (stdin echo) never occurs without a TTY; anything but 2 counts as stdout.
        this.emit(this.stream === 2 ? "stderr" : "stdout", piece);
        continue;
      }
      if (data.length < 8) {
        this.pending = Buffer.from(data);
        return;
      }
      this.stream = data[0] === 2 ? 2 : 1;
      this.remaining = data.readUInt32BE(4);
      data = data.subarray(8);
    }
  }

  /** True when the stream ended in the middle of a frame (a cut connection, not a clean end). */
  get incomplete(): boolean {
    return this.pending.length > 0 || this.remaining > 0;
  }
}
