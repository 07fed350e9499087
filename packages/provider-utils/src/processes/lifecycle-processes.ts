import { randomBytes } from "node:crypto";
import {
  type AttachOptions,
  type ProcessExit,
  type ProcessHandle,
  type ProcessInfo,
  type ProviderProcesses,
  parseAttachRequest,
  parseSpawnRequest,
  processLimits,
  type SpawnOptions,
} from "@cadre/agent-runtime-contract";
import type { AgentLink, AgentProcessChannel } from "@cadre/agent-runtime-sandbox-agent";
import { withEnv } from "../agent-exec.js";
import { type AgentFeatureHost, withAgentFeature } from "../lifecycle/agent-features.js";
import type { SessionAgentAccess } from "../lifecycle/session-backend.js";
import { signalForExitCode } from "../signals.js";
import { processCallError } from "./process-errors.js";
import { AgentProcessHandle, processExitOf } from "./process-handle.js";

/**
 * The contract's processes, once for every provider whose sandboxes run cadre-agent. A handle
 * holds the session's agent (withAgent) for as long as it follows its process, so that the
 * session's own errors reach its wait() as they reach exec.
 */
export class LifecycleProcesses implements ProviderProcesses {
  constructor(private readonly host: AgentFeatureHost) {}

  async spawn(sessionId: string, argv: string[], options?: SpawnOptions): Promise<ProcessHandle> {
    const { providerId } = this.host;
    const request = parseSpawnRequest(argv, options, providerId);
    const id = this.host.sessionId(sessionId);
    const opts = request.options;
    const processId = opts.id ?? `p-${randomBytes(8).toString("hex")}`;
    const handle = new AgentProcessHandle(processId, id, opts.pty !== undefined, providerId, {
      waitAgain: () => this.waitFor(id, processId),
    });
    return this.follow(id, processId, handle, async ({ link, defaults }) => {
      const cwd =
        opts.cwd === undefined ? defaults.cwd : (defaults.resolveCwd?.(opts.cwd) ?? opts.cwd);
      return link.spawn(
        {
          tag: processId,
          argv: request.argv,
          env: withEnv(defaults.env, opts.env),
          cwd,
          ringBytes: opts.outputBufferBytes ?? processLimits.defaultOutputBufferBytes,
          ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
          ...(opts.pty ? { pty: opts.pty } : {}),
        },
        handle.output(),
      );
    });
  }

  async attach(
    sessionId: string,
    processId: string,
    options?: AttachOptions,
  ): Promise<ProcessHandle> {
    const { providerId } = this.host;
    const request = parseAttachRequest(processId, options, providerId);
    const id = this.host.sessionId(sessionId);
    let pty = false;
    let missed = 0;
    const handle = new AgentProcessHandle(request.processId, id, false, providerId, {
      waitAgain: () => this.waitFor(id, request.processId),
    });
    const followed = await this.follow(id, request.processId, handle, async ({ link }) => {
      const { process, attached } = await link.attach(
        request.processId,
        request.fromOffset,
        handle.output(),
      );
      pty = attached.pty;
      missed = attached.missed;
      return process;
    });
    handle.missedBytes += missed;
    if (pty) {
      Object.defineProperty(handle, "pty", { value: true });
      handle.stderr.finish();
    }
    return followed;
  }

  async list(sessionId: string): Promise<ProcessInfo[]> {
    const id = this.host.sessionId(sessionId);
    const found = await this.withProcesses(id, "", ({ link }) => link.listProcesses());
    return found
      .map((p) => {
        const info: ProcessInfo = {
          id: p.tag,
          pid: p.pid,
          command: p.command,
          state: p.running ? "running" : "exited",
          pty: p.pty,
          outputBytes: p.outputBytes,
        };
        if (!p.running) {
          info.exitCode = p.exitCode;
          const signal = p.signal ? signalForExitCode(128 + p.signal) : undefined;
          if (signal) info.signal = signal;
        }
        return info;
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Opens the channel with `open` inside withAgent and keeps that call going until the handle
   * stops following (the process's end, a detach, the session's error); resolves with the handle
   * once the channel is open, or rejects with what kept it from opening.
   */
  private follow(
    sessionId: string,
    processId: string,
    handle: AgentProcessHandle,
    open: (agent: SessionAgentAccess) => ReturnType<AgentLink["spawn"]>,
  ): Promise<ProcessHandle> {
    return new Promise((resolve, reject) => {
      let opened: (channel: AgentProcessChannel) => void = () => {};
      const channel = new Promise<AgentProcessChannel>((done) => {
        opened = done;
      });
      const scope = this.withProcesses(sessionId, processId, async (agent) => {
        const open_ = await open(agent);
        opened(open_);
        return open_.exited;
      });
      channel.then((open_) => {
        handle.follow(open_, scope);
        resolve(handle);
      });
      // Before the channel opened, the call's error is spawn's or attach's; after, wait()'s.
      scope.catch(reject);
    });
  }

  /** Follows a process from its output's end, only for its exit. */
  private async waitFor(sessionId: string, processId: string): Promise<ProcessExit> {
    return this.withProcesses(sessionId, processId, async ({ link }) => {
      const { process } = await link.attach(processId, Number.MAX_SAFE_INTEGER, {
        onOutput: () => undefined,
      });
      return processExitOf(await process.exited);
    });
  }

  private async withProcesses<T>(
    sessionId: string,
    processId: string,
    use: (agent: SessionAgentAccess) => Promise<T>,
  ): Promise<T> {
    const { providerId } = this.host;
    try {
      return await withAgentFeature(this.host, "processes", sessionId, use);
    } catch (error) {
      throw processCallError(error, { providerId, sessionId, processId });
    }
  }
}
