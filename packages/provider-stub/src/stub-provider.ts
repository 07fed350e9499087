import { randomBytes } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import {
  BackendError,
  type CapabilityReport,
  checkPolicy,
  type DoctorReport,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type IsolationProvider,
  isSessionId,
  labelsSchema,
  PolicyValidationError,
  ProviderUnavailableError,
  parseExecRequest,
  type ReapOptions,
  type SessionFilter,
  type SessionInfo,
  SessionNotFoundError,
  SessionNotRunningError,
  type SessionOptions,
  safeParseInput,
  specificationVersion,
  toPolicyIssues,
} from "@cadre/agent-runtime-contract";
import {
  buildSessionLabels,
  isReapable,
  matchesLabels,
  newSessionId,
  sessionInfoFromLabels,
  TtlTimers,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";
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

const sessionOptionsSchema = z
  .strictObject({ signal: z.instanceof(AbortSignal).optional() })
  .optional();
const filterSchema = z.strictObject({ labels: labelsSchema.optional() }).optional();
const reapOptionsSchema = z
  .strictObject({ olderThanMs: z.number().nonnegative().max(Number.MAX_SAFE_INTEGER).optional() })
  .optional();

/** How long destroying a session may spend killing its processes. */
const sessionKillBudgetMs = 10_000;

/**
 * No isolation: argv runs as a host child process in the session's scratch directory, with the
 * contract's exec semantics. The reference implementation and cadre core's test double.
 */
export class StubProvider implements IsolationProvider {
  readonly specificationVersion = specificationVersion;
  readonly id = stubProviderId;
  private readonly options: ResolvedStubOptions;
  private readonly store: SessionStore;
  private readonly report: CapabilityReport;
  private readonly processes = new Map<string, Set<RunningProcess>>();
  /** Sessions this instance stopped or destroyed: no exec may start in them any more. */
  private readonly halted = new Set<string>();
  private readonly ttl = new TtlTimers((id) => this.destroySession(id));

  constructor(options?: StubProviderOptions) {
    this.options = resolveStubOptions(options);
    this.store = new SessionStore(this.options.stateDir);
    this.report = stubCapabilities(this.options.enforcement);
  }

  /** Where this instance keeps its sessions. */
  get stateDir(): string {
    return this.options.stateDir;
  }

  async capabilities(): Promise<CapabilityReport> {
    return structuredClone(this.report);
  }

  async startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    const validated = checkPolicy(policy, await this.capabilities());
    const signal = this.parse(sessionOptionsSchema, options, "session options")?.signal;
    signal?.throwIfAborted();

    const id = newSessionId();
    const labels = buildSessionLabels({ sessionId: id, providerId: this.id, policy: validated });
    const root = this.store.rootDir(id);
    try {
      await this.store.create(id, { labels, state: "running" }, validated.env ?? {});
      // Commands expect a writable /tmp; the workdir exists before the first exec.
      await mkdir(hostPath(root, "/tmp"), { recursive: true });
      if (validated.workdir) await mkdir(hostPath(root, validated.workdir), { recursive: true });
    } catch (error) {
      await this.store.remove(id).catch(() => undefined);
      throw await this.storageError(error, "start a session");
    }
    if (signal?.aborted) {
      await this.destroySession(id);
      signal.throwIfAborted();
    }
    if (validated.ttlMs !== undefined) this.ttl.schedule(id, Date.now() + validated.ttlMs);
    return id;
  }

  async exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const startedAt = performance.now();
    const { argv: command, options: opts } = parseExecRequest(argv, options, this.id);
    const session = await this.requireSession(sessionId);
    if (session.state !== "running" || this.halted.has(session.id)) {
      throw new SessionNotRunningError(
        session.id,
        session.state === "running" ? "stopped" : session.state,
        {
          providerId: this.id,
        },
      );
    }
    opts.signal?.throwIfAborted();

    const scripted = await this.scriptedAnswer(command, session);
    if (scripted) return syntheticResult(scripted, opts, startedAt);
    if (this.options.script && this.options.scriptOnly) {
      const message = `cadre-stub: no scripted result for ${JSON.stringify(command)} (scriptOnly)\n`;
      return syntheticResult({ exitCode: 127, stderr: message }, opts, startedAt);
    }

    const root = this.store.rootDir(session.id);
    const cwd = hostPath(root, opts.cwd ?? session.policy.workdir ?? "/");
    if (!(await isDirectory(cwd))) {
      const shown = opts.cwd ?? session.policy.workdir ?? "/";
      const message = `cadre-stub: cannot change to ${shown}: no such directory in the session\n`;
      return syntheticResult({ exitCode: 126, stderr: message }, opts, startedAt);
    }

    const execToken = randomBytes(12).toString("hex");
    const env = commandEnvironment({
      root,
      sessionId: session.id,
      execToken,
      policyEnv: await this.readEnv(session.id),
      execEnv: opts.env,
    });
    // Checked again right before the spawn: stopSession may have run during the awaits above.
    if (this.halted.has(session.id)) {
      throw new SessionNotRunningError(session.id, "stopped", { providerId: this.id });
    }
    const running = runProcess({ ...opts, argv: command, cwd, env, execToken, scratchRoot: root });
    const tracked = this.processes.get(session.id) ?? new Set<RunningProcess>();
    this.processes.set(session.id, tracked.add(running));
    try {
      return await running.result;
    } finally {
      tracked.delete(running);
      if (tracked.size === 0) this.processes.delete(session.id);
    }
  }

  async stopSession(sessionId: string): Promise<void> {
    const id = this.requireWellFormedId(sessionId);
    this.halted.add(id);
    const record = await this.readRecord(id);
    // Not a session of this provider (another provider's record, a directory someone made):
    // nothing to stop, and nothing of it is touched.
    if (!record || !this.ownSession(id, record)) return this.killRunning(id);
    if (record.state === "running") await this.writeRecord(id, { ...record, state: "stopped" });
    await this.killSessionProcesses(id);
  }

  async destroySession(sessionId: string): Promise<void> {
    const id = this.requireWellFormedId(sessionId);
    this.halted.add(id);
    this.ttl.cancel(id);
    const record = await this.readRecord(id);
    if (!record || !this.ownSession(id, record)) return this.killRunning(id);
    await this.killSessionProcesses(id);
    try {
      await this.store.remove(id);
    } catch (error) {
      throw await this.storageError(error, `remove session ${id}`);
    }
  }

  async getSession(sessionId: string): Promise<SessionInfo> {
    return this.requireSession(sessionId);
  }

  async listSessions(filter?: SessionFilter): Promise<SessionInfo[]> {
    const wanted = this.parse(filterSchema, filter, "session filter")?.labels;
    const now = Date.now();
    return (await this.allSessions()).filter(
      (info) => !isExpired(info, now) && matchesLabels(info, wanted),
    );
  }

  async reap(options?: ReapOptions): Promise<string[]> {
    const olderThanMs = this.parse(reapOptionsSchema, options, "reap options")?.olderThanMs;
    const now = Date.now();
    const doomed = (await this.allSessions()).filter((info) => isReapable(info, now, olderThanMs));
    await Promise.all(doomed.map((info) => this.destroySession(info.id)));
    return doomed.map((info) => info.id);
  }

  async doctor(): Promise<DoctorReport> {
    return stubDoctor(this.options.stateDir);
  }

  /** Cancels TTL timers so the process can exit; sessions and running commands stay. */
  async close(): Promise<void> {
    this.ttl.cancelAll();
  }

  private async allSessions(): Promise<SessionInfo[]> {
    let entries: Array<{ id: string; record: SessionRecord }>;
    try {
      entries = await this.store.list();
    } catch (error) {
      throw await this.storageError(error, "list sessions");
    }
    return entries
      .map(({ id, record }) => this.ownSession(id, record))
      .filter((info) => info !== undefined);
  }

  /**
   * The session a record describes, when it is one of this provider's under its own name: a
   * record of another provider, or one whose id is not its directory's, is not a session here.
   */
  private ownSession(id: string, record: SessionRecord): SessionInfo | undefined {
    const info = sessionInfoFromLabels(record.labels, record.state);
    return info?.id === id && info.providerId === this.id ? info : undefined;
  }

  private async requireSession(sessionId: unknown): Promise<SessionInfo> {
    const id = this.requireWellFormedId(sessionId);
    const record = await this.readRecord(id);
    const info = record ? this.ownSession(id, record) : undefined;
    // An expired session is gone for callers even before its timer or reap() removes it.
    if (!info || info.id !== id || isExpired(info, Date.now())) {
      throw new SessionNotFoundError(id, { providerId: this.id });
    }
    return info;
  }

  private requireWellFormedId(sessionId: unknown): string {
    if (isSessionId(sessionId)) return sessionId;
    throw new SessionNotFoundError(sessionId, { providerId: this.id });
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
        { providerId: this.id, cause: error },
      );
    }
  }

  private parse<T extends z.ZodType>(schema: T, value: unknown, subject: string): z.output<T> {
    const parsed = safeParseInput(schema, value);
    if (!parsed.success) {
      throw new PolicyValidationError(toPolicyIssues(parsed.error), {
        subject,
        providerId: this.id,
      });
    }
    return parsed.data;
  }

  private async storageError(error: unknown, action: string): Promise<Error> {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
    if (["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EEXIST"].includes(code)) {
      return new ProviderUnavailableError(
        `The stub cannot ${action}: its state directory ${this.options.stateDir} is not usable (${code}).`,
        { providerId: this.id, cause: error, checks: [await stateDirCheck(this.options.stateDir)] },
      );
    }
    return new BackendError(
      `The stub could not ${action} in ${this.options.stateDir}: ${String(error)}. Check the directory and try again.`,
      { providerId: this.id, cause: error },
    );
  }
}

function isExpired(info: SessionInfo, now: number): boolean {
  return info.expiresAt !== undefined && Date.parse(info.expiresAt) <= now;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function createStubProvider(options?: StubProviderOptions): StubProvider {
  return new StubProvider(options);
}
