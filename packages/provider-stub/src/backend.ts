import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { sessionLabels } from "@cadre/agent-runtime-contract";
import { type ForeignBackendObject, newSessionId } from "@cadre/agent-runtime-provider-utils";
import { currentPidScope, descendantsOf, isAlive, liveProcess } from "./host-processes.js";
import { type AgentRecord, agentStatus } from "./session-agent.js";
import { recordFile } from "./session-store.js";

type Labels = Record<string, string>;

interface Seen {
  labels: Labels;
  agent?: AgentRecord;
}

/**
 * A stub state directory read and written without the provider, for the conformance suite's
 * backend hooks and for leak checks: session directories (`<id>/session.json` holds the labels
 * and the agent's pid and start time) and the live agents of those sessions.
 */
export class StubBackend {
  private readonly seen = new Map<string, Seen>();

  constructor(readonly stateDir: string) {}

  /** Remembers a session's record, so that its agent is still found after its directory went. */
  remember(id: string, labels: Labels, agent?: AgentRecord): void {
    this.seen.set(id, agent ? { labels, agent } : { labels });
  }

  /**
   * Everything left of the sessions carrying these labels: their directories (a directory whose
   * record is gone counts when its labels were seen before) and their live agents (one that
   * outlived its record counts when its record was seen before, with the processes below it).
   */
  readonly findLeftovers = async (wanted: Labels): Promise<string[]> => {
    const found: string[] = [];
    for (const name of await sessionDirs(this.stateDir)) {
      const record = await readRecord(join(this.stateDir, name, recordFile));
      if (record === "unreadable") continue; // not a record: another tool's directory
      if (record === undefined) {
        if (matches(this.seen.get(name)?.labels, wanted))
          found.push(`${join(this.stateDir, name)} (no record)`);
        continue;
      }
      this.remember(name, record.labels, record.agent);
      if (matches(record.labels, wanted)) found.push(join(this.stateDir, name));
    }
    for (const [id, { labels, agent }] of this.seen) {
      if (!agent || !matches(labels, wanted) || (await agentStatus(agent)) !== "alive") continue;
      // A live session's agent is named alone: what runs below it comes and goes with its
      // commands. One that outlived its session's record is a leak, told with what it holds.
      const recordGone = (await readRecord(join(this.stateDir, id, recordFile))) === undefined;
      if (!recordGone) {
        found.push(`agent of session ${id} (pid ${agent.pid})`);
        continue;
      }
      const process = await liveProcess(agent.pid as number);
      const below = process ? (await descendantsOf(process)).length : 0;
      found.push(`agent of session ${id} (pid ${agent.pid}, ${below} processes below it)`);
    }
    return found;
  };

  /** The session's record as stored: the labels and state that listings read back. */
  readonly readLabels = async (sessionId: string): Promise<string> => {
    return readFile(join(this.stateDir, sessionId, recordFile), "utf8");
  };

  /**
   * Directories named like session ids that are not this stub's sessions, each with a live host
   * process that its record (where it has one) names as the session's agent: one without a
   * record, one with another provider's record, one of another deployment (another label
   * prefix), one whose record names another id, and one whose record is not JSON.
   */
  readonly plantForeignObjects = async (): Promise<ForeignBackendObject[]> => {
    type Plant = (id: string, agent: AgentRecord) => string | undefined;
    const plants: Array<{ description: string; record: Plant }> = [
      { description: "directory without a session record", record: () => undefined },
      {
        description: "record of another provider",
        record: (id, agent) => recordText(labelsFor(id, "docker"), agent),
      },
      {
        description: "session of another deployment (label prefix acme.agent-runtime/)",
        record: (id, agent) =>
          recordText(
            Object.fromEntries(
              Object.entries(labelsFor(id, "stub")).map(([k, v]) => [
                k.replace("cadre.agent-runtime/", "acme.agent-runtime/"),
                v,
              ]),
            ),
            agent,
          ),
      },
      {
        description: "record whose session-id label names another session",
        record: (_id, agent) => recordText(labelsFor(newSessionId(), "stub"), agent),
      },
      { description: "record that is not JSON", record: () => "{ not json" },
    ];
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const planted: ForeignBackendObject[] = [];
    try {
      for (const plant of plants) planted.push(await this.plant(plant.description, plant.record));
    } catch (error) {
      await Promise.all(planted.map((p) => p.remove()));
      throw error;
    }
    return planted;
  };

  private async plant(
    description: string,
    record: (id: string, agent: AgentRecord) => string | undefined,
  ): Promise<ForeignBackendObject> {
    const id = newSessionId();
    const dir = join(this.stateDir, id);
    await mkdir(join(dir, "root"), { recursive: true, mode: 0o700 });
    const child = spawn("sleep", ["3600"], {
      cwd: join(dir, "root"),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid as number));
      child.once("error", reject);
    });
    const start = (await liveProcess(pid))?.start;
    // The record names the planted process as its agent: a provider that acts on a record that
    // is not its own session's signals it.
    const agent: AgentRecord = {
      socket: `@cadre-stub/${id}/planted`,
      ...(await currentPidScope()),
      pid,
      ...(start !== undefined ? { start } : {}),
    };
    const files: Record<string, string> = { "root/marker": `planted ${description}\n` };
    const text = record(id, agent);
    if (text !== undefined) files[recordFile] = text;
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const planted = start === undefined ? undefined : { pid, start };
    return {
      id,
      description,
      alive: async () => {
        for (const [name, content] of Object.entries(files)) {
          const now = await readFile(join(dir, name), "utf8").catch(() => undefined);
          if (now !== content) return false;
        }
        return planted !== undefined && (await isAlive(planted));
      },
      remove: async () => {
        if (planted && (await isAlive(planted))) process.kill(pid, "SIGKILL");
        await rm(dir, { recursive: true, force: true });
        // SIGKILL is delivered asynchronously: look again for a while.
        for (let round = 0; planted && (await isAlive(planted)); round++) {
          if (round === 500) {
            throw new Error(`the planted process of ${id} (${description}) did not die`);
          }
          await delay(10);
        }
      },
    };
  }
}

function labelsFor(id: string, provider: string): Labels {
  return {
    [sessionLabels.sessionId]: id,
    [sessionLabels.provider]: provider,
    [sessionLabels.owner]: "planted/-/-/1/1",
    [sessionLabels.createdAt]: new Date().toISOString(),
    [sessionLabels.policy]: "{}",
  };
}

function recordText(labels: Labels, agent: AgentRecord): string {
  return `${JSON.stringify({ labels, state: "running", agent }, null, 2)}\n`;
}

function matches(labels: Labels | undefined, wanted: Labels): boolean {
  return labels !== undefined && Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

async function sessionDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
      .map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * The record's labels and agent; undefined when there is no record; "unreadable" when it is not
 * one.
 */
async function readRecord(file: string): Promise<Seen | undefined | "unreadable"> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "unreadable";
  }
  try {
    const { labels, agent } = JSON.parse(text) as { labels?: unknown; agent?: unknown };
    if (typeof labels !== "object" || labels === null) return "unreadable";
    const seen: Seen = { labels: labels as Labels };
    if (isAgentRecord(agent)) seen.agent = agent;
    return seen;
  } catch {
    return "unreadable";
  }
}

function isAgentRecord(value: unknown): value is AgentRecord {
  if (typeof value !== "object" || value === null) return false;
  const { socket, boot, pidNamespace, pid, start } = value as Record<string, unknown>;
  return (
    typeof socket === "string" &&
    typeof boot === "string" &&
    typeof pidNamespace === "string" &&
    typeof pid === "number" &&
    typeof start === "number"
  );
}
