import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type CapabilityReport,
  checkPolicy,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  type ProviderFiles,
  parseExecRequest,
  SessionNotRunningError,
  type SessionOptions,
} from "@cadre/agent-runtime-contract";
import { DelegatingProvider } from "./delegating-provider.js";
import { execWithLateCallbacks } from "./late-callbacks.js";

/**
 * Broken 1: reports networkIsolation as enforced and accepts `networkIsolation: true`, but the
 * session runs on the host's network like every stub session (a silent downgrade).
 */
export class ClaimsNetworkIsolation extends DelegatingProvider {
  override async capabilities(): Promise<CapabilityReport> {
    const report = await super.capabilities();
    return {
      ...report,
      policy: {
        ...report.policy,
        networkIsolation: { enforced: true, mechanism: "claimed, never applied (broken fixture)" },
      },
    };
  }

  override async startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    checkPolicy(policy, await this.capabilities());
    const { networkIsolation: _dropped, ...rest } = policy;
    return super.startSession(rest, options);
  }
}

/**
 * Broken 2: at the deadline it returns a timed-out result but abandons the command instead of
 * killing it. (The abandoned command is killed when its session goes, so the host stays clean.)
 */
export class AbandonsOnTimeout extends DelegatingProvider {
  private readonly abandoned = new Map<string, AbortController[]>();

  override async exec(
    sessionId: string,
    argv: string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    parseExecRequest(argv, options, this.id);
    const { timeoutMs, ...rest } = options;
    if (timeoutMs === undefined) return super.exec(sessionId, argv, options);

    const started = Date.now();
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const controller = new AbortController();
    const list = this.abandoned.get(sessionId) ?? [];
    list.push(controller);
    this.abandoned.set(sessionId, list);
    const running = super.exec(sessionId, argv, {
      ...rest,
      signal: rest.signal ? AbortSignal.any([rest.signal, controller.signal]) : controller.signal,
      onStdout: (c) => {
        chunks.stdout.push(Buffer.from(c));
        rest.onStdout?.(c);
      },
      onStderr: (c) => {
        chunks.stderr.push(Buffer.from(c));
        rest.onStderr?.(c);
      },
    });
    running.catch(() => undefined);

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<ExecResult>((resolve) => {
      timer = setTimeout(() => {
        const kept = [...chunks.stdout, ...chunks.stderr].reduce((n, c) => n + c.length, 0);
        const durationMs = Date.now() - started;
        resolve({
          exitCode: 137,
          signal: "SIGKILL",
          stdout: Buffer.concat(chunks.stdout).toString("utf8"),
          stderr: Buffer.concat(chunks.stderr).toString("utf8"),
          timedOut: true,
          truncated: rest.maxOutputBytes !== undefined && kept >= rest.maxOutputBytes,
          durationMs,
          cause: { kind: "timeout", limit: timeoutMs, value: durationMs },
        });
      }, timeoutMs);
    });
    try {
      return await Promise.race([running, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  override async stopSession(sessionId: string): Promise<void> {
    this.release(sessionId);
    await super.stopSession(sessionId);
  }

  override async destroySession(sessionId: string): Promise<void> {
    this.release(sessionId);
    await super.destroySession(sessionId);
  }

  override async close(): Promise<void> {
    for (const id of [...this.abandoned.keys()]) this.release(id);
    await super.close();
  }

  private release(sessionId: string): void {
    for (const controller of this.abandoned.get(sessionId) ?? []) controller.abort();
    this.abandoned.delete(sessionId);
  }
}

/** Broken 3: destroySession only stops the session; its directory and record stay behind. */
export class LeaksOnDestroy extends DelegatingProvider {
  override async destroySession(sessionId: string): Promise<void> {
    await super.stopSession(sessionId);
  }
}

/** Broken 4: stderr goes into stdout, in arrival order, like an exec without demultiplexing. */
export class MixesStderrIntoStdout extends DelegatingProvider {
  override async exec(
    sessionId: string,
    argv: string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const merged: Buffer[] = [];
    const toStdout = (c: Uint8Array) => {
      merged.push(Buffer.from(c));
      options.onStdout?.(c);
    };
    const result = await super.exec(sessionId, argv, {
      ...options,
      onStdout: toStdout,
      onStderr: toStdout,
    });
    return { ...result, stdout: Buffer.concat(merged).toString("utf8"), stderr: "" };
  }
}

/** Broken 5: a second stopSession on a stopped session throws instead of resolving. */
export class StopNotIdempotent extends DelegatingProvider {
  override async stopSession(sessionId: string): Promise<void> {
    const info = await this.getSession(sessionId).catch(() => undefined);
    if (info && info.state !== "running") {
      throw new SessionNotRunningError(sessionId, info.state, { providerId: this.id });
    }
    await super.stopSession(sessionId);
  }
}

/** Broken 6: no doctor(), so an operator cannot learn what the host lacks. */
export class WithoutDoctor extends DelegatingProvider {
  constructor(inner: IsolationProvider) {
    super(inner);
    // doctor() is optional in the contract: an own undefined property hides the inherited one.
    Object.defineProperty(this, "doctor", { value: undefined });
  }
}

/**
 * Broken 7: claims streaming (the stub's report says so) but holds every chunk back until the
 * command has ended, like an exec that only reads its output at the end.
 */
export class StreamingClaimedButBuffered extends DelegatingProvider {
  override async exec(
    sessionId: string,
    argv: string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    return execWithLateCallbacks((o) => super.exec(sessionId, argv, o), options);
  }
}

/**
 * Broken 8: destroySession removes whatever directory of the state directory carries the id,
 * whether or not it holds one of its sessions, like a provider that removes containers by name.
 */
export class DestroysByName extends DelegatingProvider {
  constructor(
    inner: IsolationProvider,
    private readonly stateDir: string,
  ) {
    super(inner);
  }

  override async destroySession(sessionId: string): Promise<void> {
    await super.destroySession(sessionId);
    if (/^[a-z0-9][a-z0-9-]{2,62}$/.test(sessionId)) {
      await rm(join(this.stateDir, sessionId), { recursive: true, force: true });
    }
  }
}

/**
 * Broken 9: copies the policy's env into the session's labels, like a provider that writes the
 * whole policy into its backend labels: every token is then listed to every owner.
 */
export class EnvInLabels extends DelegatingProvider {
  override async startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    if (typeof policy !== "object" || policy === null || Array.isArray(policy))
      return super.startSession(policy, options);
    const copied = Object.fromEntries(
      Object.entries(policy.env ?? {}).map(([k, v]) => [`broken.example/env.${k}`, v]),
    );
    return super.startSession(
      { ...policy, labels: { ...(policy.labels ?? {}), ...copied } },
      options,
    );
  }
}

/** Broken 10: a timed-out result does not say what the kill reached. */
export class HidesKillReport extends DelegatingProvider {
  override async exec(
    sessionId: string,
    argv: string[],
    options?: ExecOptions,
  ): Promise<ExecResult> {
    const { kill: _hidden, ...result } = await super.exec(sessionId, argv, options);
    return result;
  }
}

/**
 * Broken 11: replaces a file by removing it first and then writing the new one, so a write that
 * fails midway leaves nothing where the old file was (and a rewrite loses the file's mode).
 */
export class WritesNonAtomically extends DelegatingProvider {
  override get files(): ProviderFiles | undefined {
    const inner = this.inner.files;
    if (!inner) return undefined;
    return {
      ...bound(inner),
      async write(sessionId, path, data, options) {
        await inner.remove(sessionId, path, { force: true }).catch(() => undefined);
        return inner.write(sessionId, path, data, options);
      },
    };
  }
}

/** Every method of `files`, bound to it, for a wrapper that replaces one. */
function bound(files: ProviderFiles): ProviderFiles {
  return {
    write: files.write.bind(files),
    read: files.read.bind(files),
    readStream: files.readStream.bind(files),
    stat: files.stat.bind(files),
    list: files.list.bind(files),
    remove: files.remove.bind(files),
    rename: files.rename.bind(files),
    mkdir: files.mkdir.bind(files),
    upload: files.upload.bind(files),
    download: files.download.bind(files),
  };
}
