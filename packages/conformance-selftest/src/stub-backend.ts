import { mkdtempSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionTag } from "@cadre/agent-runtime-provider-stub";

/**
 * The stub's backend as the conformance suite's findBackendLeftovers sees it, read without the
 * provider: session directories under a state directory of their own, and live host processes
 * tagged with one of those sessions.
 */
export class StubBackend {
  readonly stateDir = mkdtempSync(join(tmpdir(), "cadre-selftest-"));
  private readonly labelsById = new Map<string, Record<string, string>>();

  /** Remembers a session's labels, so its processes are still attributed after its directory went. */
  remember(id: string, labels: Record<string, string>): void {
    this.labelsById.set(id, labels);
  }

  readonly findLeftovers = async (wanted: Record<string, string>): Promise<string[]> => {
    const found = new Set<string>();
    for (const name of await listDir(this.stateDir)) {
      const labels = await readLabels(join(this.stateDir, name, "session.json"));
      if (!labels) {
        found.add(`${name} (directory without a session record)`);
        continue;
      }
      this.remember(name, labels);
      if (matches(labels, wanted)) found.add(name);
    }
    for (const id of await taggedSessionIds()) {
      const labels = this.labelsById.get(id);
      if (labels && matches(labels, wanted)) found.add(`${id} (process)`);
    }
    return [...found];
  };

  async remove(): Promise<void> {
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

function matches(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => !name.startsWith("."));
  } catch {
    return [];
  }
}

async function readLabels(file: string): Promise<Record<string, string> | undefined> {
  try {
    const record = JSON.parse(await readFile(file, "utf8")) as { labels?: Record<string, string> };
    return record.labels;
  } catch {
    return undefined;
  }
}

/** Session ids found in the environment of live host processes (the stub tags every process). */
async function taggedSessionIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  const prefix = `${sessionTag}=`;
  for (const pid of await listDir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let environ: string;
    try {
      environ = await readFile(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    for (const entry of environ.split("\0")) {
      if (entry.startsWith(prefix)) ids.add(entry.slice(prefix.length));
    }
  }
  return ids;
}
