import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { BackendError } from "@cadre/agent-runtime-contract";
import { settlesWithin } from "@cadre/agent-runtime-provider-utils";
import { AgentLink, AgentLinkClosedError } from "@cadre/agent-runtime-sandbox-agent";
import { agentStartError, requireAgentBinary } from "./agent-errors.js";
import { stubProviderId } from "./capabilities.js";
import {
  currentPidScope,
  descendantsOf,
  type HostProcess,
  isAlive,
  liveProcess,
  processInInnerNamespace,
} from "./host-processes.js";

/**
 * What session.json records of the session's agent, so that any process on this host finds it,
 * talks to it and ends it: its socket (an abstract name of its own), and the process itself, by
 * pid and start time in the PID namespace of the boot that started it (a reused pid is never
 * taken for it). `pid` and `start` are missing only while the session starts.
 */
export interface AgentRecord {
  /** `@cadre-stub/<session id>/<random>`: the abstract unix socket the agent listens on. */
  socket: string;
  /** The kernel's boot id and the PID namespace (inode) where `pid` means the agent. */
  boot: string;
  pidNamespace: string;
  pid?: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat, field 22). */
  start?: number;
  /**
   * The agent resolves files paths beneath the session's scratch root (`--root`). A record from
   * before files has no such flag: that agent would take "/" for the host's, so it serves none.
   */
  filesRoot?: string;
}

/** How long the agent may take to greet. */
const helloTimeoutMs = 10_000;

/** The record of an agent about to start for `sessionId`, before its process exists. */
export async function plannedAgent(sessionId: string, filesRoot: string): Promise<AgentRecord> {
  const scope = await currentPidScope();
  const socket = `@cadre-stub/${sessionId}/${randomBytes(8).toString("hex")}`;
  return { socket, ...scope, filesRoot };
}

/**
 * Starts the session's agent as a host process of its own: `cadre-agent --listen NAME`, detached
 * into a session of its own (setsid), stderr /dev/null, so that it outlives this process as a
 * container outlives the process that started it. Its stdin and stdout are this instance's link
 * to it (the others connect to its socket): when this process goes, that link closes, and the
 * agent kills only what was started over it. Resolves once it listens, with its pid and start
 * time, and the link.
 */
export async function launchAgent(planned: AgentRecord): Promise<{
  record: AgentRecord & Required<Pick<AgentRecord, "pid" | "start">>;
  connection: AgentConnection;
}> {
  const binary = requireAgentBinary();
  const root = planned.filesRoot ? ["--root", planned.filesRoot] : [];
  const child = spawn(binary, ["--listen", planned.socket, ...root], {
    cwd: "/",
    env: { PATH: process.env.PATH || "/usr/local/bin:/usr/bin:/bin" },
    detached: true,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
  });
  child.on("error", () => {
    // Reported by the spawn below; a later error (a failed kill) changes nothing.
  });
  const stdin = child.stdin as NonNullable<typeof child.stdin>;
  const stdout = child.stdout as NonNullable<typeof child.stdout>;
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    // The greeting comes after the socket is bound.
    const link = await AgentLink.open(stdout, stdin);
    const pid = child.pid as number;
    const agent = await liveProcess(pid);
    if (link.agentPid !== pid || !agent) {
      link.close();
      throw new AgentLinkClosedError(`the agent (pid ${pid}) was gone right after its greeting`);
    }
    const connection = pipeConnection(link, [
      stdin as unknown as Socket,
      stdout as unknown as Socket,
    ]);
    connection.hold(false);
    return { record: { ...planned, pid, start: agent.start }, connection };
  } catch (error) {
    stdin.destroy();
    stdout.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    const how = child.pid === undefined ? undefined : await Promise.race([exited, delay(1000)]);
    throw agentStartError(error, binary, how ?? undefined);
  } finally {
    // The agent is no child to wait for: it lives with its session.
    child.unref();
  }
}

/** A link over pipes of this process's own, which keep it alive only while held. */
function pipeConnection(
  link: AgentLink,
  pipes: Array<{ ref(): void; unref(): void; destroy(): void }>,
): AgentConnection {
  return {
    link,
    hold(on) {
      for (const pipe of pipes) on ? pipe.ref() : pipe.unref();
    },
    close() {
      link.close("closed by the host");
      for (const pipe of pipes) pipe.destroy();
    },
  };
}

/** The agent does not listen (any more): it has ended, or never started. */
export class AgentGoneError extends Error {
  constructor(socket: string, cause: unknown) {
    super(`no agent listens at ${socket}`, { cause });
    this.name = "AgentGoneError";
  }
}

/** A link to a session's agent through a relay of this process's own. */
export interface AgentConnection {
  link: AgentLink;
  /** Whether the relay keeps this process alive (while an exec waits on it) or not. */
  hold(on: boolean): void;
  /** Ends the link: the relay exits, and the agent kills what still runs over it. */
  close(): void;
}

/**
 * A link to the session's agent over its socket, from any process on this host that shares its
 * network namespace (the agent admits only peers of its own uid). Node cannot connect to an
 * abstract name of the exact length the agent binds (it pads the address to the whole
 * sun_path), so the link goes through `cadre-agent connect NAME`, the agent's own relay for a
 * host that attaches later, run here as a child process. Rejects with AgentGoneError when
 * nothing listens at the name, and with BackendError when something else answers there.
 */
export async function connectAgent(
  agent: AgentRecord,
  timeoutMs = helloTimeoutMs,
): Promise<AgentConnection> {
  const binary = requireAgentBinary();
  const relay = spawn(binary, ["connect", agent.socket], { stdio: ["pipe", "pipe", "ignore"] });
  const exited = new Promise<number | null>((resolve) => {
    relay.once("exit", (code) => resolve(code));
  });
  relay.on("error", () => {
    // Reported by the spawn below; a later error (a failed kill) changes nothing.
  });
  const stdin = relay.stdin as NonNullable<typeof relay.stdin>;
  const stdout = relay.stdout as NonNullable<typeof relay.stdout>;
  const close = () => {
    stdin.destroy();
    stdout.destroy();
    // Its stdin closed, the relay exits; one that does not is not left behind.
    void settlesWithin(exited, 5_000).then((done) => done || relay.kill("SIGKILL"));
  };
  let link: AgentLink;
  try {
    await new Promise<void>((resolve, reject) => {
      relay.once("spawn", resolve);
      relay.once("error", reject);
    });
    link = await AgentLink.open(stdout, stdin, timeoutMs);
  } catch (error) {
    close();
    // The relay exits 3 when nothing listens at the name.
    const code = relay.pid === undefined ? undefined : await Promise.race([exited, delay(2_000)]);
    if (code === 3) throw new AgentGoneError(agent.socket, error);
    throw new BackendError(
      `The session's agent at ${agent.socket} did not greet (${(error as Error).message}); destroy the session and start another.`,
      { providerId: stubProviderId, cause: error },
    );
  }
  // Its own pid, in its own PID namespace, as the record names it.
  if (agent.pid !== undefined && link.agentPid !== agent.pid) {
    link.close();
    close();
    throw new BackendError(
      `Another process (pid ${link.agentPid}) answers at ${agent.socket}, not the session's agent (pid ${agent.pid}); destroy the session and start another.`,
      { providerId: stubProviderId },
    );
  }
  void exited.then(() => link.close("its relay exited"));
  return {
    link,
    hold(on) {
      // The pipes are sockets: each is a handle of its own.
      for (const handle of [relay, stdin as unknown as Socket, stdout as unknown as Socket]) {
        if (on) handle.ref();
        else handle.unref();
      }
    },
    close() {
      link.close("closed by the host");
      close();
    },
  };
}

/**
 * Whether the agent still runs, judged where that is certain: its pid and start time in this
 * boot and PID namespace. Anywhere else (another PID namespace, another boot, a record without
 * its pid) it is "unknown".
 */
export async function agentStatus(agent: AgentRecord): Promise<"alive" | "gone" | "unknown"> {
  const here = await currentPidScope();
  if (agent.pid === undefined || agent.start === undefined || here.boot === "-") return "unknown";
  if (agent.boot !== here.boot || agent.pidNamespace !== here.pidNamespace) return "unknown";
  return (await isAlive({ pid: agent.pid, start: agent.start })) ? "alive" : "gone";
}

/**
 * Ends the agent and waits, within `budgetMs`, until it and every process below it are gone:
 * SIGTERM (a non-PID-1 agent then kills everything it runs, and exits), SIGKILL when it does not
 * exit in time, then SIGKILL for whatever of its tree is still alive, each checked by pid and
 * start time. An agent this process cannot signal (in a PID namespace above or beside this one)
 * is asked through its own socket. Resolves at once when it is gone already; throws BackendError
 * when something survived.
 */
export async function endAgent(agent: AgentRecord, budgetMs: number): Promise<void> {
  const until = performance.now() + budgetMs;
  const here = await currentPidScope();
  if (agent.pid !== undefined && agent.start !== undefined && agent.boot === here.boot) {
    const found =
      agent.pidNamespace === here.pidNamespace
        ? await liveProcess(agent.pid).then((p) => (p?.start === agent.start ? p : undefined))
        : await processInInnerNamespace(agent.pid, agent.start);
    if (found) return endProcessTree(found, until);
    // Gone, as far as this PID namespace can tell: where it is this one's, that is certain.
    if (agent.pidNamespace === here.pidNamespace) return;
  }
  return endThroughSocket(agent, until);
}

async function endProcessTree(agent: HostProcess, until: number): Promise<void> {
  const below = await descendantsOf(agent);
  signal(agent.pid, "SIGTERM");
  // The agent's own kill of its tree takes a few seconds at most; keep some budget for ours.
  if (!(await waitUntil(async () => !(await isAlive(agent)), until - 2_000))) {
    signal(agent.pid, "SIGKILL");
    await waitUntil(async () => !(await isAlive(agent)), until);
  }
  let alive = [agent, ...below];
  for (let round = 0; ; round++) {
    alive = (
      await Promise.all(alive.map(async (p) => ((await isAlive(p)) ? p : undefined)))
    ).filter((p) => p !== undefined);
    if (alive.length === 0) return;
    if (performance.now() >= until) break;
    for (const p of alive) signal(p.pid, "SIGKILL");
    await delay(round < 10 ? 2 : 20);
  }
  throw new BackendError(
    `The stub could not end the session's agent (pid ${agent.pid}) and every process below it: ${alive.map((p) => p.pid).join(", ")} still run. Kill them and destroy the session again.`,
    { providerId: stubProviderId },
  );
}

/**
 * For an agent whose pid means nothing here: its own command, in its own PID namespace, sends it
 * SIGTERM; it is gone once its socket no longer answers (the socket lives as long as it does).
 */
async function endThroughSocket(agent: AgentRecord, until: number): Promise<void> {
  let connection: AgentConnection;
  try {
    connection = await connectAgent(agent, Math.max(1, until - performance.now()));
  } catch (error) {
    if (error instanceof AgentGoneError) return;
    throw error;
  }
  const { link } = connection;
  const pid = String(link.agentPid);
  link
    .exec({
      argv: ["sh", "-c", 'kill -TERM "$1"', "sh", pid],
      env: [`PATH=${process.env.PATH || "/usr/local/bin:/usr/bin:/bin"}`],
      maxOutputBytes: 1024,
    })
    .catch(() => {
      // The agent ends before it can answer.
    });
  await Promise.race([link.closed, delay(Math.max(1, until - performance.now()))]);
  connection.close();
  if (await waitUntil(async () => !(await listens(agent)), until)) return;
  throw new BackendError(
    `The session's agent at ${agent.socket} (pid ${pid} in its own PID namespace) did not stop. Kill it and destroy the session again.`,
    { providerId: stubProviderId },
  );
}

/** Whether an agent still greets at the record's socket. */
async function listens(agent: AgentRecord): Promise<boolean> {
  try {
    (await connectAgent(agent, 2_000)).close();
    return true;
  } catch (error) {
    return !(error instanceof AgentGoneError);
  }
}

/** Polls `condition` until it holds (true) or `until` passes (false). */
async function waitUntil(condition: () => Promise<boolean>, until: number): Promise<boolean> {
  for (let round = 0; ; round++) {
    if (await condition()) return true;
    if (performance.now() >= until) return false;
    await delay(round < 10 ? 2 : 10);
  }
}

function signal(pid: number, name: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** A sink for what AgentLink.open writes (HELLO_AGAIN) to an agent whose stdin is /dev/null. */
