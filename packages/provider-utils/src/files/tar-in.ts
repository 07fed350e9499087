import { Readable } from "node:stream";
import { type EntryRecord, encodeRecord, maxRecordText } from "@cadre/agent-runtime-sandbox-agent";
import tar from "tar-stream";
import { ArchiveLimitError, UnsafeArchiveError } from "./file-errors.js";

export interface TarLimits {
  maxBytes: number;
  maxEntries: number;
}

/**
 * A tar stream as the agent's entry records, with each file's bytes after its record, read as the
 * agent takes them. The host refuses what no upload may carry before the agent sees it: a name
 * that is absolute or climbs out with `..`, a link whose target leaves the archive, a hard link,
 * a device, a FIFO, anything past the limits. (The agent checks names and links again inside the
 * sandbox, and refuses what a tenant swaps in while it extracts.)
 */
export async function* recordsFromTar(
  archive: AsyncIterable<Uint8Array>,
  limits: TarLimits,
): AsyncGenerator<Uint8Array> {
  const extract = tar.extract();
  const source = Readable.from(archive, { objectMode: false });
  source.on("error", (error) => extract.destroy(error));
  source.pipe(extract);
  let entries = 0;
  let bytes = 0;
  try {
    for await (const entry of extract) {
      const record = recordOf(entry.header);
      if (++entries > limits.maxEntries) {
        throw new ArchiveLimitError(`more than ${limits.maxEntries} entries`);
      }
      bytes += record.size;
      if (bytes > limits.maxBytes)
        throw new ArchiveLimitError(`more than ${limits.maxBytes} bytes`);
      yield encodeRecord(record);
      for await (const chunk of entry) yield chunk;
    }
  } finally {
    source.destroy();
    extract.destroy();
  }
}

function recordOf(header: tar.Headers): EntryRecord {
  const name = header.name;
  const kind =
    header.type === "file" || header.type === "contiguous-file"
      ? "file"
      : header.type === "directory"
        ? "directory"
        : header.type === "symlink"
          ? "symlink"
          : undefined;
  if (!kind) {
    const what =
      header.type === "link" ? "is a hard link" : `is a ${header.type ?? "entry of no type"}`;
    throw new UnsafeArchiveError(name, `${what}, which an upload never carries`);
  }
  const depth = cleanDepth(name);
  if (depth === undefined) throw new UnsafeArchiveError(name, "names a path outside the target");
  const link = kind === "symlink" ? (header.linkname ?? "") : "";
  if (kind === "symlink" && !linkStaysInside(name, link)) {
    throw new UnsafeArchiveError(name, `is a link to ${JSON.stringify(link)}, outside the target`);
  }
  const record: EntryRecord = {
    kind,
    mode: (header.mode ?? (kind === "directory" ? 0o755 : 0o644)) & 0o7777,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    size: kind === "file" ? (header.size ?? 0) : 0,
    mtimeMs: header.mtime ? header.mtime.getTime() : 0,
    name: Buffer.from(name, "utf8"),
    link: Buffer.from(link, "utf8"),
  };
  if (
    record.name.length > maxRecordText ||
    record.link.length > maxRecordText ||
    name.includes("\0")
  ) {
    throw new UnsafeArchiveError(
      name.slice(0, 200),
      "has a name or link target longer than 4095 bytes",
    );
  }
  return record;
}

/** How deep a relative name goes (0: the archive's top itself), or undefined when it escapes. */
function cleanDepth(name: string): number | undefined {
  if (name.startsWith("/")) return undefined;
  let depth = 0;
  for (const part of name.split("/")) {
    if (part === "..") return undefined;
    if (part !== "" && part !== ".") depth++;
  }
  return depth;
}

/** Whether a link at `name` pointing to `target` stays within the archive's top, by its text. */
export function linkStaysInside(name: string, target: string): boolean {
  if (target === "" || target.startsWith("/")) return false;
  let depth = name.split("/").filter((p) => p !== "" && p !== ".").length - 1;
  for (const part of target.split("/")) {
    if (part === "..") depth--;
    else if (part !== "" && part !== ".") depth++;
    if (depth < 0) return false;
  }
  return true;
}
