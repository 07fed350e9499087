import { randomBytes } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import {
  BackendError,
  type CapabilityReport,
  type DoctorReport,
  type ExecRequest,
  type ExecResult,
  ProviderUnavailableError,
  type SessionInfo,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import {
  type BackendSession,
  isExpired,
  type NewSession,
  type SessionBackend,
  sessionInfoFromLabels,
} from "@cadre/agent-runtime-provider-utils";
import { stubCapabilities, stubProviderId } from "./capabilities.js";
import { stateDirCheck, stubDoctor } from "./doctor.js";
import {
  type ResolvedStubOptions,
  resolveStubOptions,
  type StubProviderOptions,
} from "./options.js";
import { killScope } from "./process-kill.js";
import { sessionTag } from "./process-tree.js";
import { type RunningProcess, runProcess } from "./run-process.js";
import { commandEnvironment, hostPath } from "./sandbox-paths.js";
import { syntheticResult } from "./scripted-result.js";
import { type SessionRecord, SessionStore } from "./session-store.js";

/** How long destroying a session may spend killing its processes. */
const sessionKillBudgetMs = 10_000;

/**
 * The stub's sessions: a directory each under the state directory (its record, its env values,
 * its scratch root), and argv run as host child processes with the contract's exec semantics.
 */
export class HostProcessBackend implements SessionBackend {
  readonly providerId = stubProviderId;
  readonly options: ResolvedStubOptions;
  private readonly store: SessionStore;
  private readonly report: CapabilityReport;
  private readonly processes = new Map<string, Set<RunningProcess>>();
  /** Sessions this instance stopped or destroyed: no exec may start in them any more. */
  private readonly halted = new Set<string>();

  constructor(options?: StubProviderOptions) {
    this.options = resolveStubOptions(options);
    this.store = new SessionStore(this.options.stateDir);
    this.report = stubCapabilities(this.options.enforcement);
  }

  async capabilities(): Promise<CapabilityReport> {
    return structuredClone(this.report);
  }

  async create({ id, policy, labels }: NewSession): Promise<void> {
    const root = this.store.rootDir(id);
    try {
      await this.store.create(id, { labels, state: "running" }, policy.env ?? {});
      // Commands expect a writable /tmp; the workdir exists before the first exec.
      await mkdir(hostPath(root, "/tmp"), { recursive: true });
      if (policy.workdir) await mkdir(hostPath(root, policy.workdir), { recursive: true });
    } catch (error) {
      await this.store.remove(id).catch(() => undefined);
      throw await this.storageError(error, "start a session");
    }
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const startedAt = performance.now();
    const { argv: command, options: opts } = request;
    const session = await this.requireSession(id);
    if (session.state !== "running" || this.halted.has(id)) {
      const state = session.state === "running" ? "stopped" : session.state;
      throw new SessionNotRunningError(id, state, { providerId: this.providerId });
    }
    opts.signal?.throwIfAborted();

    const scripted = await this.scriptedAnswer(command, session);
    if (scripted) return syntheticResult(scripted, opts, startedAt);
    if (this.options.script && this.options.scriptOnly) {
      const message = `cadre-stub: no scripted result for ${JSON.stringify(command)} (scriptOnly)\n`;
      return syntheticResult({ exitCode: 127, stderr: message }, opts, startedAt);
    }

    const root = this.store.rootDir(id);
    const cwd = hostPath(root, opts.cwd ?? session.policy.workdir ?? "/");
    if (!(await isDirectory(cwd))) {
      const shown = opts.cwd ?? session.policy.workdir ?? "/";
      const message = `cadre-stub: cannot change to ${shown}: no such directory in the session\n`;
      return syntheticResult({ exitCode: 126, stderr: message }, opts, startedAt);
    }

    const execToken = randomBytes(12).toString("hex");
    const env = commandEnvironment({
      root,
      sessionId: id,
      execToken,
      policyEnv: await this.readEnv(id),
      execEnv: opts.env,
    });
    // Checked again right before the spawn: stopSession may have run during the awaits above.
    if (this.halted.has(id)) {
      throw new SessionNotRunningError(id, "stopped", { providerId: this.providerId });
    }
    const running = runProcess({ ...opts, argv: command, cwd, env, execToken, scratchRoot: root });
    const tracked = this.processes.get(id) ?? new Set<RunningProcess>();
    this.processes.set(id, tracked.add(running));
    try {
      return await running.result;
    } finally {
      tracked.delete(running);
      if (tracked.size === 0) this.processes.delete(id);
    }
  }

  async stop(id: string): Promise<void> {
    this.halted.add(id);
    const record = await this.readRecord(id);
    // Not a session of this provider (another provider's record, a directory someone made):
    // nothing to stop, and nothing of it is touched.
    if (!record || !this.ownSession(id, record)) return this.killRunning(id);
    if (record.state === "running") await this.writeRecord(id, { ...record, state: "stopped" });
    await this.killSessionProcesses(id);
  }

  async destroy(id: string): Promise<void> {
    this.halted.add(id);
    const record = await this.readRecord(id);
    if (!record || !this.ownSession(id, record)) return this.killRunning(id);
    await this.killSessionProcesses(id);
    try {
      await this.store.remove(id);
    } catch (error) {
      throw await this.storageError(error, `remove session ${id}`);
    }
  }

  async find(id: string): Promise<BackendSession | undefined> {
    const record = await this.readRecord(id);
    return record && this.ownSession(id, record) ? record : undefined;
  }

  async list(): Promise<BackendSession[]> {
    let entries: Array<{ id: string; record: SessionRecord }>;
    try {
      entries = await this.store.list();
    } catch (error) {
      throw await this.storageError(error, "list sessions");
    }
    return entries.filter(({ id, record }) => this.ownSession(id, record)).map((e) => e.record);
  }

  async doctor(): Promise<DoctorReport> {
    return stubDoctor(this.options.stateDir);
  }

  /**
   * The session a record describes, when it is one of this provider's under its own name: a
   * record of another provider, or one whose id is not its directory's, is not a session here.
   */
  private ownSession(id: string, record: SessionRecord): SessionInfo | undefined {
    const info = sessionInfoFromLabels(record.labels, record.state);
    return info?.id === id && info.providerId === this.providerId ? info : undefined;
  }

  private async requireSession(id: string): Promise<SessionInfo> {
    const record = await this.readRecord(id);
    const info = record ? this.ownSession(id, record) : undefined;
    // An expired session is gone for callers even before its timer or reap() removes it.
    if (!info || info.id !== id || isExpired(info, Date.now())) {
      throw new SessionNotFoundError(id, { providerId: this.providerId });
    }
    return info;
  }

  private async readRecord(id: string): Promise<SessionRecord | undefined> {
    try {
      return await this.store.read(id);
    } catch (error) {
      throw await this.storageError(error, `read session ${id}`);
    }
  }

  private async writeRecord(id: string, record: SessionRecord): Promise<void> {
    try {
      await this.store.write(id, record);
    } catch (error) {
      // Destroyed meanwhile: stopping a session that is gone is done.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw await this.storageError(error, `update session ${id}`);
    }
  }

  private async readEnv(id: string): Promise<Record<string, string>> {
    try {
      return await this.store.readEnv(id);
    } catch (error) {
      throw await this.storageError(error, `read the environment of session ${id}`);
    }
  }

  /** The execs this instance runs in the session: its own processes, whatever the disk says. */
  private async killRunning(id: string): Promise<void> {
    await Promise.all([...(this.processes.get(id) ?? [])].map((p) => p.kill()));
  }

  /**
   * Every running exec of the session, every process carrying its tag wherever it is, and every
   * untagged process in its scratch root (one that cleared its environment).
   */
  private async killSessionProcesses(id: string): Promise<void> {
    const scope = {
      tagName: sessionTag,
      tagValue: id,
      roots: [],
      directory: this.store.rootDir(id),
    };
    await Promise.all([this.killRunning(id), killScope(scope, sessionKillBudgetMs)]);
  }

  private async scriptedAnswer(
    argv: string[],
    session: SessionInfo,
  ): Promise<Partial<ExecResult> | undefined> {
    if (!this.options.script) return undefined;
    try {
      return (await this.options.script(argv, session)) ?? undefined;
    } catch (error) {
      throw new BackendError(
        `The stub's script function threw for ${JSON.stringify(argv)}: ${String(error)}. Fix the script.`,
        { providerId: this.providerId, cause: error },
      );
    }
  }

  private async storageError(error: unknown, action: string): Promise<Error> {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
    if (["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EEXIST"].includes(code)) {
      return new ProviderUnavailableError(
        `The stub cannot ${action}: its state directory ${this.options.stateDir} is not usable (${code}).`,
        {
          providerId: this.providerId,
          cause: error,
          checks: [await stateDirCheck(this.options.stateDir)],
        },
      );
    }
    return new BackendError(
      `The stub could not ${action} in ${this.options.stateDir}: ${String(error)}. Check the directory and try again.`,
      { providerId: this.providerId, cause: error },
    );
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
