import { once } from "node:events";
import { Readable, type Writable } from "node:stream";
import type { RecordEvent } from "@cadre/agent-runtime-sandbox-agent";
import tar from "tar-stream";

/**
 * Writes the agent's archive events into a tar stream as they come: `push` for each event (its
 * promise holds the agent back while the reader is behind), `end` once the archive is whole.
 */
export class TarWriter {
  private readonly pack = tar.pack();
  private current: Writable | undefined;
  /** The tar bytes, for the caller (a Node stream; the pack underneath is tar-stream's own). */
  readonly stream: Readable = Readable.from(this.pack, { objectMode: false });

  async push(event: RecordEvent): Promise<void> {
    if (event.type === "record") {
      const { record } = event;
      const header: tar.Headers = {
        name: record.name.toString("utf8"),
        type:
          record.kind === "directory"
            ? "directory"
            : record.kind === "symlink"
              ? "symlink"
              : "file",
        mode: record.mode,
        uid: record.uid,
        gid: record.gid,
        size: record.size,
        mtime: new Date(record.mtimeMs),
      };
      if (record.kind === "symlink") header.linkname = record.link.toString("utf8");
      if (record.kind === "file" && record.size > 0) this.current = this.pack.entry(header);
      else if (record.kind === "file") this.pack.entry(header, Buffer.alloc(0));
      else this.pack.entry(header);
      return;
    }
    const entry = this.current;
    if (!entry) return;
    if (!entry.write(event.chunk)) await once(entry, "drain");
    if (event.last) {
      entry.end();
      this.current = undefined;
    }
  }

  end(): void {
    this.pack.finalize();
  }

  fail(error: Error): void {
    this.stream.destroy(error);
    this.pack.destroy(error);
  }
}
