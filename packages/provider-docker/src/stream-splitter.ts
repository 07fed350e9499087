import type { OutputSink } from "./docker-client.js";

/** A header no Docker daemon writes: the stream is not what it claims to be, and must end. */
export class MalformedStreamError extends Error {
  constructor(detail: string) {
    super(`the engine's multiplexed stream broke: ${detail}`);
    this.name = "MalformedStreamError";
  }
}

/**
 * Splits Docker's multiplexed stream (an attach or exec without a TTY): frames of an 8-byte
 * header (the stream, 0 stdin, 1 stdout, 2 stderr; three zero bytes; the payload's length, u32
 * big-endian) and the payload.
 *
 * Why not dockerode's demuxer: it concatenates every chunk onto what it holds and copies the
 * unread rest again after each frame, so a session's agent link, which carries files at hundreds
 * of MiB/s, spent more of its CPU copying there than anywhere else (docs/performance.md). Here a
 * payload's bytes go on as views of the socket's chunks as they arrive: nothing is copied but a
 * header cut by the socket, and nothing is held back until its frame is whole. A frame's
 * boundaries mean nothing to a byte stream, so a payload may reach the sink in several pieces.
 */
export class DockerStreamSplitter {
  private readonly header = Buffer.alloc(8);
  private headerHave = 0;
  /** Payload bytes of the current frame still to come. */
  private left = 0;
  private stream: "stdout" | "stderr" = "stdout";

  constructor(private readonly sink: OutputSink) {}

  /** Hands on what `chunk` holds; throws MalformedStreamError at a header no daemon writes. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const end = Math.min(chunk.length, at + this.left);
        this.left -= end - at;
        this.sink(this.stream, chunk.subarray(at, end));
        at = end;
        continue;
      }
      const take = Math.min(8 - this.headerHave, chunk.length - at);
      chunk.copy(this.header, this.headerHave, at, at + take);
      this.headerHave += take;
      at += take;
      if (this.headerHave < 8) break;
      this.headerHave = 0;
      this.startFrame();
    }
  }

  private startFrame(): void {
    const [type, a, b, c] = this.header;
    if (a !== 0 || b !== 0 || c !== 0 || type === undefined || type > 2) {
      // Stream 3 is the daemon's own error (API 1.41 and later): it says the exec broke, which
      // for the agent's link means the same as any other end.
      throw new MalformedStreamError(
        type === 3 ? "the engine reported an error on it" : `a frame header of stream ${type}`,
      );
    }
    // Stdin (0) comes back only on a TTY; Docker's own client reads it as stdout.
    this.stream = type === 2 ? "stderr" : "stdout";
    this.left = this.header.readUInt32BE(4);
  }
}
