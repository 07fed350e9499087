import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSessionId, type SessionState } from "@cadre/agent-runtime-contract";
import type { AgentRecord } from "./session-agent.js";

/**
 * What session.json holds: the session's labels (buildSessionLabels), its state, and how to find
 * its agent (absent only in a record older than the agent, whose session can run nothing).
 */
export interface SessionRecord {
  labels: Record<string, string>;
  state: SessionState;
  agent?: AgentRecord;
}

/** What listings read. Never holds env values. */
export const recordFile = "session.json";
/** The policy's env values, read only to run commands; never listed. */
const envFile = "env.json";
const states: readonly SessionState[] = ["running", "stopped", "failed"];

/**
 * Sessions on disk: `<stateDir>/<id>/session.json` (labels and state: what listings read),
 * `<stateDir>/<id>/env.json` (the policy's env values, mode 0600, read only by exec) and the
 * scratch root `<stateDir>/<id>/root`. The disk is the truth, so another process (or a later
 * one) sees the same sessions.
 */
export class SessionStore {
  constructor(readonly stateDir: string) {}

  sessionDir(id: string): string {
    return join(this.stateDir, id);
  }

  rootDir(id: string): string {
    return join(this.stateDir, id, "root");
  }

  /** Creates the session's directory, env file and record; fails if the id is taken. */
  async create(id: string, record: SessionRecord, env: Record<string, string>): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await mkdir(this.sessionDir(id), { mode: 0o700 });
    if (Object.keys(env).length > 0) {
      await writeFile(join(this.sessionDir(id), envFile), JSON.stringify(env), {
        mode: 0o600,
        flag: "wx",
      });
    }
    await this.write(id, record);
    await mkdir(this.rootDir(id), { mode: 0o700 });
  }

  /** The policy's env values; empty when it had none. */
  async readEnv(id: string): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(join(this.sessionDir(id), envFile), "utf8");
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    const env: unknown = JSON.parse(text);
    if (typeof env !== "object" || env === null || Array.isArray(env)) return {};
    return Object.fromEntries(
      Object.entries(env).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string",
      ),
    );
  }

  async read(id: string): Promise<SessionRecord | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.sessionDir(id), recordFile), "utf8");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return parseRecord(text);
  }

  /** Atomic: readers see the old or the new record, never half of one. */
  async write(id: string, record: SessionRecord): Promise<void> {
    const target = join(this.sessionDir(id), recordFile);
    const temporary = `${target}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, target);
  }

  /** Ids of every session directory that holds a readable record. */
  async list(): Promise<Array<{ id: string; record: SessionRecord }>> {
    let names: string[];
    try {
      names = await readdir(this.stateDir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const found = await Promise.all(
      names.filter(isSessionId).map(async (id) => {
        const record = await this.read(id).catch(() => undefined);
        return record ? { id, record } : undefined;
      }),
    );
    return found.filter((entry) => entry !== undefined);
  }

  /**
   * The scratch root first, the record last: a removal cut short (a crash, a full disk) leaves a
   * record, which listSessions and reap still find, never an unlisted scratch tree.
   */
  async remove(id: string): Promise<void> {
    await rm(this.rootDir(id), { recursive: true, force: true, maxRetries: 3 });
    await rm(this.sessionDir(id), { recursive: true, force: true, maxRetries: 3 });
  }
}

function parseRecord(text: string): SessionRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<SessionRecord>;
    const labels = value.labels;
    if (typeof labels !== "object" || labels === null) return undefined;
    if (!Object.values(labels).every((v) => typeof v === "string")) return undefined;
    if (!states.includes(value.state as SessionState)) return undefined;
    const record: SessionRecord = { labels, state: value.state as SessionState };
    const agent = parseAgent(value.agent);
    if (agent) record.agent = agent;
    return record;
  } catch {
    return undefined;
  }
}

/** The agent part of a record; undefined when it is missing or not of the expected shape. */
function parseAgent(value: unknown): AgentRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { socket, boot, pidNamespace, pid, start, filesRoot } = value as Record<string, unknown>;
  if (typeof socket !== "string" || !/^@cadre-stub\/[\w./-]{1,90}$/.test(socket)) return undefined;
  if (typeof boot !== "string" || typeof pidNamespace !== "string") return undefined;
  const agent: AgentRecord = { socket, boot, pidNamespace };
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (isCount(pid) && isCount(start)) {
    agent.pid = pid;
    agent.start = start;
  }
  if (typeof filesRoot === "string" && filesRoot.startsWith("/")) agent.filesRoot = filesRoot;
  return agent;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
