import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sessionLabels } from "@cadre/agent-runtime-contract";
import { type ForeignBackendObject, newSessionId } from "@cadre/agent-runtime-provider-utils";
import { scanProcesses } from "./process-scan.js";
import { findTaggedProcesses, sessionTag } from "./process-tree.js";
import { recordFile } from "./session-store.js";

type Labels = Record<string, string>;

/**
 * A stub state directory read and written without the provider, for the conformance suite's
 * backend hooks and for leak checks: session directories (`<id>/session.json` holds the labels)
 * and live host processes tagged with one of those sessions.
 */
export class StubBackend {
  private readonly seen = new Map<string, Labels>();

  constructor(readonly stateDir: string) {}

  /** Remembers a session's labels, so its processes are still attributed after its directory went. */
  remember(id: string, labels: Labels): void {
    this.seen.set(id, labels);
  }

  /**
   * Everything left of the sessions carrying these labels: their directories (a directory whose
   * record is gone counts when its labels were seen before) and their live processes.
   */
  readonly findLeftovers = async (wanted: Labels): Promise<string[]> => {
    const found: string[] = [];
    for (const name of await sessionDirs(this.stateDir)) {
      const labels = await readRecordLabels(join(this.stateDir, name, recordFile));
      if (labels === "unreadable") continue; // not a record: another tool's directory
      if (labels === undefined) {
        if (matches(this.seen.get(name), wanted))
          found.push(`${join(this.stateDir, name)} (no record)`);
        continue;
      }
      this.seen.set(name, labels);
      if (matches(labels, wanted)) found.push(join(this.stateDir, name));
    }
    for (const id of await taggedSessionIds()) {
      if (matches(this.seen.get(id), wanted)) found.push(`process of session ${id}`);
    }
    return found;
  };

  /** The session's record as stored: the labels and state that listings read back. */
  readonly readLabels = async (sessionId: string): Promise<string> => {
    return readFile(join(this.stateDir, sessionId, recordFile), "utf8");
  };

  /**
   * Directories named like session ids that are not this stub's sessions, each with a live
   * process tagged with its name: one without a record, one with another provider's record, one
   * of another deployment (another label prefix), one whose record names another id, and one
   * whose record is not JSON.
   */
  readonly plantForeignObjects = async (): Promise<ForeignBackendObject[]> => {
    const plants: Array<{ description: string; record: (id: string) => string | undefined }> = [
      { description: "directory without a session record", record: () => undefined },
      {
        description: "record of another provider",
        record: (id) => recordText(labelsFor(id, "docker"), "running"),
      },
      {
        description: "session of another deployment (label prefix acme.agent-runtime/)",
        record: (id) =>
          recordText(
            Object.fromEntries(
              Object.entries(labelsFor(id, "stub")).map(([k, v]) => [
                k.replace("cadre.agent-runtime/", "acme.agent-runtime/"),
                v,
              ]),
            ),
            "running",
          ),
      },
      {
        description: "record whose session-id label names another session",
        record: () => recordText(labelsFor(newSessionId(), "stub"), "running"),
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
    record: (id: string) => string | undefined,
  ): Promise<ForeignBackendObject> {
    const id = newSessionId();
    const dir = join(this.stateDir, id);
    const files: Record<string, string> = { "root/marker": `planted ${description}\n` };
    const text = record(id);
    if (text !== undefined) files[recordFile] = text;
    await mkdir(join(dir, "root"), { recursive: true, mode: 0o700 });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const child = spawn("sleep", ["3600"], {
      cwd: join(dir, "root"),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [sessionTag]: id },
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid as number));
      child.once("error", reject);
    });
    const start = await startOf(pid);
    return {
      id,
      description,
      alive: async () => {
        for (const [name, content] of Object.entries(files)) {
          const now = await readFile(join(dir, name), "utf8").catch(() => undefined);
          if (now !== content) return false;
        }
        return start !== undefined && (await startOf(pid)) === start;
      },
      remove: async () => {
        if (start !== undefined && (await startOf(pid)) === start) process.kill(pid, "SIGKILL");
        await rm(dir, { recursive: true, force: true });
        if ((await findTaggedProcesses(sessionTag, id)).length > 0) {
          throw new Error(`the planted process of ${id} (${description}) did not die`);
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

function recordText(labels: Labels, state: string): string {
  return `${JSON.stringify({ labels, state }, null, 2)}\n`;
}

/** A live process's start time, undefined when it is gone. */
async function startOf(pid: number): Promise<number | undefined> {
  return (await scanProcesses()).find((e) => e.pid === pid)?.start;
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

/** The record's labels; undefined when there is no record; "unreadable" when it is not one. */
async function readRecordLabels(file: string): Promise<Labels | undefined | "unreadable"> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "unreadable";
  }
  try {
    const labels = (JSON.parse(text) as { labels?: unknown }).labels;
    return typeof labels === "object" && labels !== null ? (labels as Labels) : "unreadable";
  } catch {
    return "unreadable";
  }
}

/** Session ids in the environment of live host processes. */
async function taggedSessionIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  const prefix = Buffer.from(`${sessionTag}=`);
  for (const entry of await scanProcesses()) {
    if (!Buffer.isBuffer(entry.environ)) continue;
    for (const variable of entry.environ.toString("latin1").split("\0")) {
      if (variable.startsWith(prefix.toString())) ids.add(variable.slice(prefix.length));
    }
  }
  return ids;
}
