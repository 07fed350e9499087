import { Readable } from "node:stream";
import {
  BackendError,
  type Download,
  type DownloadOptions,
  type DownloadSummary,
  type FileChecksum,
  type FileData,
  FileError,
  type FileInfo,
  type FileOperation,
  type FileOptionsOf,
  type FileStream,
  fileLimits,
  type ListFilesOptions,
  type MkdirOptions,
  type ProviderFiles,
  parseFileCall,
  type ReadFile,
  type ReadFileOptions,
  type RemoveFileOptions,
  type RenameFileOptions,
  type StatFileOptions,
  type TarSource,
  type Upload,
  type UploadOptions,
  type WriteFileOptions,
  type WrittenFile,
} from "@cadre/agent-runtime-contract";
import { AgentFiles, type EntryRecord } from "@cadre/agent-runtime-sandbox-agent";
import { type AgentFeatureHost, withAgentFeature } from "../lifecycle/agent-features.js";
import { traced } from "../tracing/spans.js";
import { bytesOf, Tally } from "./byte-sources.js";
import { fileCallError } from "./file-errors.js";
import { SessionSlots } from "./session-slots.js";
import { recordsFromTar } from "./tar-in.js";
import { TarWriter } from "./tar-out.js";

/**
 * The contract's files operations, once for every provider whose sandboxes run cadre-agent: input
 * checked before anything is sent, at most `fileLimits.concurrentPerSession` at once per session,
 * every byte's SHA-256 compared with the agent's, every failure the contract's error.
 */
export class LifecycleFiles implements ProviderFiles {
  private readonly slots = new SessionSlots(fileLimits.concurrentPerSession);

  constructor(private readonly host: AgentFeatureHost) {}

  async write(
    sessionId: string,
    path: string,
    data: FileData,
    options?: WriteFileOptions,
  ): Promise<WrittenFile> {
    const call = this.begin("write", sessionId, { path }, options, data);
    const { opts } = call;
    const sent = new Tally();
    const result = await this.run(call, path, (files) =>
      files.write(path, sent.through(bytesOf(data)), {
        ...agentCallOptions(opts),
        maxBytes: opts.maxBytes ?? fileLimits.defaultWriteBytes,
        ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
        ...(opts.mkdirs ? { mkdirs: true } : {}),
        ...(opts.exclusive ? { exclusive: true } : {}),
        ...(opts.owner ? { owner: opts.owner } : {}),
      }),
    );
    this.verify(path, result, sent);
    return { path, ...result };
  }

  async read(sessionId: string, path: string, options?: ReadFileOptions): Promise<ReadFile> {
    const call = this.begin("read", sessionId, { path }, options);
    const got = new Tally();
    const chunks: Buffer[] = [];
    const result = await this.run(call, path, (files) =>
      files.read(
        path,
        call.opts.maxBytes ?? fileLimits.defaultReadBytes,
        (chunk) => {
          got.add(chunk);
          chunks.push(chunk);
        },
        agentCallOptions(call.opts),
      ),
    );
    this.verify(path, result, got);
    return { data: Buffer.concat(chunks), ...result };
  }

  async readStream(
    sessionId: string,
    path: string,
    options?: ReadFileOptions,
  ): Promise<FileStream> {
    const call = this.begin("read", sessionId, { path }, options);
    const got = new Tally();
    const { stream, push, settle, started, signal } = streamOut(call.opts.signal);
    const done = this.run(call, path, (files) =>
      files.read(
        path,
        call.opts.maxBytes ?? fileLimits.defaultStreamBytes,
        (chunk) => {
          got.add(chunk);
          return push(chunk);
        },
        { ...agentCallOptions(call.opts), signal },
      ),
    ).then((result) => {
      this.verify(path, result, got);
      return result;
    });
    settle(done);
    await started(done);
    return { stream, done };
  }

  async stat(sessionId: string, path: string, options?: StatFileOptions): Promise<FileInfo> {
    const call = this.begin("stat", sessionId, { path }, options);
    const record = await this.run(call, path, (files) =>
      files.stat(path, call.opts.followSymlinks ?? false, agentCallOptions(call.opts)),
    );
    return fileInfo(path, record, lastName(path));
  }

  async list(sessionId: string, path: string, options?: ListFilesOptions): Promise<FileInfo[]> {
    const call = this.begin("list", sessionId, { path }, options);
    const maxEntries = call.opts.maxEntries ?? fileLimits.defaultListEntries;
    const { entries, truncated } = await this.run(call, path, (files) =>
      files.list(path, maxEntries, agentCallOptions(call.opts)),
    );
    if (truncated) {
      throw new FileError("too-large", path, `The directory has more than ${maxEntries} entries`, {
        providerId: this.host.providerId,
      });
    }
    const base = path.endsWith("/") ? path : `${path}/`;
    return entries
      .map((record) =>
        fileInfo(`${base}${record.name.toString("utf8")}`, record, record.name.toString("utf8")),
      )
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(sessionId: string, path: string, options?: RemoveFileOptions): Promise<void> {
    const call = this.begin("remove", sessionId, { path }, options);
    await this.run(call, path, (files) =>
      files.remove(
        path,
        call.opts.recursive ?? false,
        call.opts.force ?? false,
        agentCallOptions(call.opts),
      ),
    );
  }

  async rename(
    sessionId: string,
    from: string,
    to: string,
    options?: RenameFileOptions,
  ): Promise<void> {
    const call = this.begin("rename", sessionId, { from, to }, options);
    await this.run(call, from, (files) =>
      files.rename(from, to, call.opts.mkdirs ?? false, agentCallOptions(call.opts)),
    );
  }

  async mkdir(sessionId: string, path: string, options?: MkdirOptions): Promise<void> {
    const call = this.begin("mkdir", sessionId, { path }, options);
    await this.run(call, path, (files) =>
      files.mkdir(path, call.opts.mode, call.opts.parents ?? false, agentCallOptions(call.opts)),
    );
  }

  async upload(
    sessionId: string,
    path: string,
    tar: TarSource,
    options?: UploadOptions,
  ): Promise<Upload> {
    const call = this.begin("upload", sessionId, { path }, options, tar);
    const limits = {
      maxBytes: call.opts.maxBytes ?? fileLimits.defaultArchiveBytes,
      maxEntries: call.opts.maxEntries ?? fileLimits.defaultArchiveEntries,
    };
    const source = tar instanceof Uint8Array ? bytesOf(tar) : tar;
    const result = await this.run(call, path, (files) =>
      files.extract(
        path,
        recordsFromTar(source, limits),
        { ...limits, ...(call.opts.mkdirs ? { mkdirs: true } : {}) },
        { ...agentCallOptions(call.opts), ...(call.opts.owner ? { owner: call.opts.owner } : {}) },
      ),
    );
    return { path, ...result };
  }

  async download(sessionId: string, path: string, options?: DownloadOptions): Promise<Download> {
    const call = this.begin("download", sessionId, { path }, options);
    const limits = {
      maxBytes: call.opts.maxBytes ?? fileLimits.defaultArchiveBytes,
      maxEntries: call.opts.maxEntries ?? fileLimits.defaultArchiveEntries,
    };
    const writer = new TarWriter();
    const got = new Tally();
    const { stream, settle, started, signal, markStarted } = streamOut(
      call.opts.signal,
      writer.stream,
    );
    const done: Promise<DownloadSummary> = this.run(call, path, (files) =>
      files.archive(
        path,
        limits,
        (event) => {
          markStarted();
          if (event.type === "data") got.add(event.chunk);
          return writer.push(event);
        },
        { ...agentCallOptions(call.opts), signal },
      ),
    ).then(
      (summary) => {
        this.verify(path, summary, got);
        writer.end();
        return summary;
      },
      (error: unknown) => {
        writer.fail(error instanceof Error ? error : new Error(String(error)));
        throw error;
      },
    );
    settle(done);
    await started(done);
    return { stream, done };
  }

  /** Checks the call's input (POLICY_INVALID) and the session id before anything is sent. */
  private begin<Op extends FileOperation>(
    operation: Op,
    sessionId: unknown,
    paths: Record<string, unknown>,
    options: unknown,
    data?: unknown,
  ): { operation: Op; sessionId: string; opts: FileOptionsOf<Op> } {
    const opts = parseFileCall(operation, { paths, data, options }, this.host.providerId);
    return { operation, sessionId: this.host.sessionId(sessionId), opts };
  }

  private async run<T>(
    call: { operation: FileOperation; sessionId: string; opts: { signal?: AbortSignal } },
    path: string,
    body: (files: AgentFiles) => Promise<T>,
  ): Promise<T> {
    const { providerId } = this.host;
    call.opts.signal?.throwIfAborted();
    const attributes = { "cadre.provider": providerId, "cadre.session_id": call.sessionId };
    return traced(`cadre.files.${call.operation}`, attributes, async (span) => {
      try {
        const result = await this.slots.run(call.sessionId, () =>
          withAgentFeature(this.host, "files", call.sessionId, ({ link }) =>
            body(new AgentFiles(link)),
          ),
        );
        span.set(transferred(call.operation, result));
        return result;
      } catch (error) {
        throw fileCallError(error, {
          providerId,
          operation: call.operation,
          path,
          signal: call.opts.signal,
        });
      }
    });
  }

  /** The agent's size and checksum must be those of the bytes that crossed the link. */
  private verify(path: string, result: FileChecksum, tally: Tally): void {
    const ours = tally.digest();
    if (result.size === tally.size && result.sha256 === ours) return;
    throw new BackendError(
      `The bytes of ${JSON.stringify(path)} changed in transit: the sandbox's agent counted ${result.size} bytes with SHA-256 ${result.sha256}, the provider ${tally.size} with ${ours}. Try again; destroy the session if it persists.`,
      { providerId: this.host.providerId },
    );
  }
}

/** The bytes a transfer moved, for its span: into the sandbox (write, upload) or out of it. */
function transferred(operation: FileOperation, result: unknown): Record<string, number> {
  const size = (result as { size?: unknown } | undefined)?.size;
  if (typeof size !== "number") return {};
  return operation === "write" || operation === "upload"
    ? { "cadre.bytes_in": size }
    : { "cadre.bytes_out": size };
}

/** The options the agent takes from a call's: its deadline and signal. */
function agentCallOptions(opts: { timeoutMs?: number; signal?: AbortSignal }) {
  return {
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
}

function lastName(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  return parts.at(-1) ?? "/";
}

function fileInfo(path: string, record: EntryRecord, name: string): FileInfo {
  const info: FileInfo = {
    path,
    name,
    type: record.kind,
    size: record.size,
    mode: record.mode,
    uid: record.uid,
    gid: record.gid,
    mtimeMs: record.mtimeMs,
  };
  if (record.kind === "symlink") info.linkTarget = record.link.toString("utf8");
  return info;
}

/**
 * A byte stream for the caller that a transfer fills as its reader takes it: `push` answers with
 * a promise while the reader is behind, which holds the agent back. The caller's call returns once
 * the transfer has started (or failed before any byte), and destroying the stream early stops it.
 */
function streamOut(callerSignal: AbortSignal | undefined, source?: Readable) {
  const stopped = new AbortController();
  const signal = callerSignal ? AbortSignal.any([callerSignal, stopped.signal]) : stopped.signal;
  let wake: (() => void) | undefined;
  const stream =
    source ??
    new Readable({
      highWaterMark: 256 * 1024,
      read() {
        const resume = wake;
        wake = undefined;
        resume?.();
      },
    });
  let ended = false;
  // A failure ends the stream with its error and rejects `done`: a caller that waits on `done`
  // alone, or never got the stream (the call failed first), must not crash on the stream's event.
  stream.on("error", () => {});
  stream.once("close", () => {
    if (!ended) stopped.abort(new Error("the reader closed the stream"));
  });
  let markStarted: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  return {
    stream,
    signal,
    markStarted: () => markStarted(),
    push(chunk: Buffer): Promise<void> | undefined {
      markStarted();
      if (stream.push(chunk)) return undefined;
      return new Promise<void>((resolve) => {
        wake = resolve;
      });
    },
    /** Ends the stream with the transfer: its last byte, or its error. */
    settle(done: Promise<unknown>): void {
      done.then(
        () => {
          ended = true;
          if (!source) stream.push(null);
        },
        (error: unknown) => {
          ended = true;
          stream.destroy(error instanceof Error ? error : new Error(String(error)));
        },
      );
    },
    /** Resolves once the first byte came or the transfer succeeded; rejects if it failed first. */
    async started(done: Promise<unknown>): Promise<void> {
      await Promise.race([first, done]);
    },
  };
}
