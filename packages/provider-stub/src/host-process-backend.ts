import { mkdir, stat } from "node:fs/promises";
import {
  BackendError,
  CapabilityMismatchError,
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
  type CommandDefaults,
  execThroughAgent,
  isExpired,
  type NewSession,
  type SessionAgentAccess,
  type SessionBackend,
  sessionInfoFromLabels,
  withEnv,
} from "@cadre/agent-runtime-provider-utils";
import { AgentLinkClosedError } from "@cadre/agent-runtime-sandbox-agent";
import { AgentLinks } from "./agent-links.js";
import { stubCapabilities, stubProviderId } from "./capabilities.js";
import { agentBinaryCheck, stateDirCheck, stubDoctor } from "./doctor.js";
import { StubEndRecords } from "./end-records.js";
import { liveProcess } from "./host-processes.js";
import {
  type ResolvedStubOptions,
  resolveStubOptions,
  type StubProviderOptions,
} from "./options.js";
import { commandEnvironment, hostPath } from "./sandbox-paths.js";
import { syntheticResult } from "./scripted-result.js";
import {
  AgentGoneError,
  type AgentRecord,
  agentStatus,
  endAgent,
  launchAgent,
  plannedAgent,
} from "./session-agent.js";
import { type SessionRecord, SessionStore } from "./session-store.js";
import { directoryBytes, processTreeUsage } from "./usage.js";

/** How long stopping a session may spend ending its agent and every process below it. */
const agentEndBudgetMs = 10_000;

/**
 * The stub's sessions: a directory each under the state directory (its record, its env values,
 * its scratch root) and an agent each, a host process of its own that runs the session's
 * commands under a subreaper supervisor each and outlives the instance that started it.
 */
export class HostProcessBackend implements SessionBackend {
  readonly providerId = stubProviderId;
  readonly options: ResolvedStubOptions;
  private readonly store: SessionStore;
  private readonly report: CapabilityReport;
  private readonly links = new AgentLinks();
  /** Sessions this instance stopped or destroyed: no exec may start in them any more. */
  private readonly halted = new Set<string>();
  private binaryReady = false;
  readonly endRecords: StubEndRecords;

  constructor(options?: StubProviderOptions) {
    this.options = resolveStubOptions(options);
    this.store = new SessionStore(this.options.stateDir);
    this.endRecords = new StubEndRecords(this.options.stateDir, this.providerId);
    this.report = stubCapabilities(this.options.enforcement);
  }

  async capabilities(): Promise<CapabilityReport> {
    return structuredClone(this.report);
  }

  /** Without a cadre-agent binary for this host no session can run anything: fail closed. */
  async ensureReady(): Promise<void> {
    if (this.binaryReady) return;
    const check = agentBinaryCheck();
    if (!check.ok) {
      throw new ProviderUnavailableError("The stub cannot start a session without cadre-agent.", {
        providerId: this.providerId,
        checks: [check],
      });
    }
    this.binaryReady = true;
  }

  /**
   * The session's directory, its record naming the agent's socket (so that a start cut short
   * still leaves the agent findable), then the agent, whose pid and start time complete the
   * record. The agent starts with the session, as a container does: its lifetime is the
   * session's, and no two instances ever race to start one.
   */
  async create({ id, policy, labels }: NewSession): Promise<void> {
    const root = this.store.rootDir(id);
    const planned = await plannedAgent(id, root);
    try {
      await this.store.create(id, { labels, state: "running", agent: planned }, policy.env ?? {});
      // Commands expect a writable /tmp; the workdir exists before the first exec.
      await mkdir(hostPath(root, "/tmp"), { recursive: true });
      if (policy.workdir) await mkdir(hostPath(root, policy.workdir), { recursive: true });
    } catch (error) {
      await this.store.remove(id).catch(() => undefined);
      throw await this.storageError(error, "start a session");
    }
    let launched: Awaited<ReturnType<typeof launchAgent>>;
    try {
      launched = await launchAgent(planned);
    } catch (error) {
      await this.store.remove(id).catch(() => undefined);
      throw error;
    }
    const agent: AgentRecord = launched.record;
    try {
      await this.store.write(id, { labels, state: "running", agent });
    } catch (error) {
      launched.connection.close();
      await endAgent(agent, agentEndBudgetMs).catch(() => undefined);
      await this.store.remove(id).catch(() => undefined);
      throw await this.storageError(error, "start a session");
    }
    // The agent's own stdio is this instance's link: its first command needs no relay.
    this.links.adopt(id, launched.connection);
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const startedAt = performance.now();
    const { argv: command, options: opts } = request;
    const { info: session, record } = await this.requireSession(id);
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

    // A record older than the agent: that session can run nothing.
    const agent = record.agent;
    if (!agent) throw this.failed(id);
    // Checked again right before the command goes out: stopSession may have run meanwhile.
    if (this.halted.has(id)) {
      throw new SessionNotRunningError(id, "stopped", { providerId: this.providerId });
    }
    // The command's whole environment and its directory on the host, as the stub makes them.
    const sessionDefaults = await this.commandDefaults(id, session.policy.workdir);
    const defaults = { env: withEnv(sessionDefaults.env, opts.env), cwd };
    const { env: _env, cwd: _cwd, ...rest } = opts;
    try {
      return await this.links.with(id, agent, (link) =>
        execThroughAgent(
          link,
          defaults,
          { argv: command, options: rest },
          {
            providerId: this.providerId,
            linkClosed: async (error) => {
              const ended = await this.linkEnded(id, agent, error);
              // Killed with its session: a result, as a command killed by any other SIGKILL.
              if (ended === "stopped") return { exitCode: 137, sessionEnded: true };
              throw ended;
            },
          },
        ),
      );
    } catch (error) {
      if (!(error instanceof AgentGoneError)) throw error;
      throw await this.agentGone(id);
    }
  }

  /**
   * What every command of the session gets unless it says otherwise: nothing of the host's
   * environment but PATH, HOME the scratch root, the policy's env; the workdir, or the root, as
   * its directory on the host; and a command's own directory, which is inside the scratch root.
   */
  private async commandDefaults(id: string, workdir: string | undefined): Promise<CommandDefaults> {
    const root = this.store.rootDir(id);
    const env = commandEnvironment({ root, policyEnv: await this.readEnv(id), execEnv: undefined });
    return {
      env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      cwd: hostPath(root, workdir ?? "/"),
      resolveCwd: (cwd) => hostPath(root, cwd),
    };
  }

  /**
   * The error of a call that found nothing listening at the agent's socket: the agent died (on the
   * stub a command of the same user can kill it), or the session ended meanwhile.
   */
  private async agentGone(id: string): Promise<SessionNotRunningError> {
    const now = await this.readRecord(id);
    if (this.halted.has(id) || !now || now.state !== "running") {
      const state = now && now.state !== "running" ? now.state : "stopped";
      return new SessionNotRunningError(id, state, { providerId: this.providerId });
    }
    await this.markFailed(id);
    return this.failed(id);
  }

  /** From /proc and the scratch directory: the stub has no cgroup, so no peak and no limit. */
  async usage(id: string) {
    const { info: session, record } = await this.requireSession(id);
    if (session.state !== "running" || this.halted.has(id)) {
      const state = session.state === "running" ? "stopped" : session.state;
      throw new SessionNotRunningError(id, state, { providerId: this.providerId });
    }
    const agent = record.agent?.pid ? await liveProcess(record.agent.pid) : undefined;
    if (!agent || agent.start !== record.agent?.start) throw this.failed(id);
    const [tree, disk] = await Promise.all([
      processTreeUsage(agent),
      directoryBytes(this.store.rootDir(id)),
    ]);
    return { ...tree, ...(disk !== undefined ? { diskBytes: disk } : {}) };
  }

  async withAgent<T>(id: string, use: (agent: SessionAgentAccess) => Promise<T>): Promise<T> {
    const { info: session, record } = await this.requireSession(id);
    if (session.state !== "running" || this.halted.has(id)) {
      const state = session.state === "running" ? "stopped" : session.state;
      throw new SessionNotRunningError(id, state, { providerId: this.providerId });
    }
    const agent = record.agent;
    if (!agent) throw this.failed(id);
    if (!agent.filesRoot) {
      throw new CapabilityMismatchError(
        {
          "features.files":
            "this session's agent predates files and processes; start a new session for them",
        },
        { providerId: this.providerId },
      );
    }
    const defaults = await this.commandDefaults(id, session.policy.workdir);
    try {
      return await this.links.with(id, agent, async (link) => {
        try {
          return await use({ link, defaults });
        } catch (error) {
          if (!(error instanceof AgentLinkClosedError)) throw error;
          const ended = await this.linkEnded(id, agent, error);
          throw ended === "stopped"
            ? new SessionNotRunningError(id, "stopped", { providerId: this.providerId })
            : ended;
        }
      });
    } catch (error) {
      if (!(error instanceof AgentGoneError)) throw error;
      throw await this.agentGone(id);
    }
  }

  /**
   * Marks the session stopped, then ends its agent, which kills every command it runs; resolves
   * once the agent and all below it are gone. Idempotent.
   */
  async stop(id: string): Promise<void> {
    this.halted.add(id);
    const record = await this.readRecord(id);
    // Not a session of this provider (another provider's record, a directory someone made):
    // nothing to stop, and nothing of it is touched, whatever its record names.
    if (!record || !this.ownSession(id, record)) return this.links.forget(id);
    if (record.state === "running") await this.writeRecord(id, { ...record, state: "stopped" });
    await this.endSessionAgent(id, record);
  }

  /** Stops the session as stop() does, then removes its directory: scratch root first, record last. */
  async destroy(id: string): Promise<void> {
    this.halted.add(id);
    const record = await this.readRecord(id);
    if (!record || !this.ownSession(id, record)) return this.links.forget(id);
    if (record.state === "running") await this.writeRecord(id, { ...record, state: "stopped" });
    await this.endSessionAgent(id, record);
    try {
      await this.store.remove(id);
    } catch (error) {
      throw await this.storageError(error, `remove session ${id}`);
    }
  }

  async find(id: string): Promise<BackendSession | undefined> {
    const record = await this.readRecord(id);
    if (!record || !this.ownSession(id, record)) return undefined;
    const found: BackendSession = await withAgentState(record);
    // An agent gone while its record says it runs: lost, with no exit code to tell (it is not
    // this process's child).
    if (found.state === "failed") found.exit = {};
    return found;
  }

  async list(): Promise<BackendSession[]> {
    let entries: Array<{ id: string; record: SessionRecord }>;
    try {
      entries = await this.store.list();
    } catch (error) {
      throw await this.storageError(error, "list sessions");
    }
    const own = entries.filter(({ id, record }) => this.ownSession(id, record));
    return Promise.all(own.map((e) => withAgentState(e.record)));
  }

  async doctor(): Promise<DoctorReport> {
    return stubDoctor(this.options.stateDir);
  }

  /** Closes this instance's links to session agents; the sessions and their agents stay. */
  async close(): Promise<void> {
    await this.links.closeAll();
  }

  /**
   * The session a record describes, when it is one of this provider's under its own name: a
   * record of another provider, or one whose id is not its directory's, is not a session here.
   */
  private ownSession(id: string, record: SessionRecord): SessionInfo | undefined {
    const info = sessionInfoFromLabels(record.labels, record.state);
    return info?.id === id && info.providerId === this.providerId ? info : undefined;
  }

  private async requireSession(id: string): Promise<{ info: SessionInfo; record: SessionRecord }> {
    const record = await this.readRecord(id);
    const info = record ? this.ownSession(id, await withAgentState(record)) : undefined;
    // An expired session is gone for callers even before its timer or reap() removes it.
    if (!info || info.id !== id || isExpired(info, Date.now())) {
      throw new SessionNotFoundError(id, { providerId: this.providerId });
    }
    return { info, record: record as SessionRecord };
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

  /** Ends the session's agent and this instance's link to it. */
  private async endSessionAgent(id: string, record: SessionRecord): Promise<void> {
    try {
      if (record.agent) await endAgent(record.agent, agentEndBudgetMs);
    } finally {
      await this.links.forget(id);
    }
  }

  /**
   * An exec's link ended before its result: the session was stopped or destroyed (here or by
   * another process), or its agent died, which fails the session.
   */
  private async linkEnded(
    id: string,
    agent: AgentRecord,
    error: AgentLinkClosedError,
  ): Promise<"stopped" | Error> {
    const record = await this.readRecord(id).catch(() => undefined);
    if (this.halted.has(id) || !record || record.state === "stopped") return "stopped";
    if (record.state === "failed" || (await agentStatus(agent)) === "gone") {
      await this.markFailed(id);
      return this.failed(id);
    }
    return new BackendError(
      `The link to the agent of session ${id} broke (${error.message}); run the command again, or destroy the session if it persists.`,
      { providerId: this.providerId, cause: error },
    );
  }

  private failed(id: string): SessionNotRunningError {
    return new SessionNotRunningError(id, "failed", { providerId: this.providerId });
  }

  /** Records that the session's agent is gone, unless the session was stopped meanwhile. */
  private async markFailed(id: string): Promise<void> {
    const record = await this.readRecord(id).catch(() => undefined);
    if (record?.state === "running" && !this.halted.has(id)) {
      await this.writeRecord(id, { ...record, state: "failed" }).catch(() => undefined);
    }
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

/**
 * The record as listings see it: a running session whose agent is known gone (pid and start time,
 * in this PID namespace) has failed, whatever the record still says.
 */
async function withAgentState(record: SessionRecord): Promise<SessionRecord> {
  if (record.state !== "running" || !record.agent) return record;
  return (await agentStatus(record.agent)) === "gone" ? { ...record, state: "failed" } : record;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
