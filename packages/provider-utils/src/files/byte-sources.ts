import { createHash, type Hash } from "node:crypto";
import type { FileData } from "@cadre/agent-runtime-contract";

/** Bytes as the agent's stdin takes them, in chunks of at most 1 MiB (strings as UTF-8). */
export async function* bytesOf(data: FileData): AsyncGenerator<Uint8Array> {
  if (typeof data === "string") {
    yield* chunks(Buffer.from(data, "utf8"));
    return;
  }
  if (data instanceof Uint8Array) {
    yield* chunks(data);
    return;
  }
  for await (const chunk of data) {
    if (typeof chunk === "string") yield Buffer.from(chunk, "utf8");
    else if (chunk instanceof Uint8Array) yield chunk;
    else throw new TypeError("a file's stream must yield bytes (Uint8Array) or strings");
  }
}

function* chunks(bytes: Uint8Array): Generator<Uint8Array> {
  const size = 1024 * 1024;
  if (bytes.length === 0) return;
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A running SHA-256 and byte count of what passes through. */
export class Tally {
  private readonly hash: Hash = createHash("sha256");
  size = 0;

  add(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  /** `source`, counted as it is read. */
  async *through(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.add(chunk);
      yield chunk;
    }
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}
