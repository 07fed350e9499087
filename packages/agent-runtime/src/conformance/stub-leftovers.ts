import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultStateDir, sessionTag } from "@cadre/agent-runtime-provider-stub";
import type { StubConfig } from "../config/schema.js";

type Labels = Record<string, string>;

/**
 * Reads the stub's backend without the provider: session directories under its state directory
 * (`<id>/session.json` holds the labels) and live host processes tagged with one of those
 * sessions. A session's labels are remembered once seen, so its processes are still attributed
 * after its directory went away.
 */
export function stubLeftovers(stub: StubConfig | undefined): (wanted: Labels) => Promise<string[]> {
  const stateDir = stub?.stateDir ?? defaultStateDir();
  const seen = new Map<string, Labels>();
  return async (wanted: Labels): Promise<string[]> => {
    const found: string[] = [];
    for (const name of await listDir(stateDir)) {
      const labels = await readRecordLabels(join(stateDir, name, "session.json"));
      if (labels === "unreadable") continue; // a file of its own, or another tool's directory
      if (labels === undefined) {
        // A directory without a record is a half-created or half-removed session: ours to report
        // only when its labels are known from an earlier look.
        if (matches(seen.get(name), wanted)) found.push(`${join(stateDir, name)} (no record)`);
        continue;
      }
      seen.set(name, labels);
      if (matches(labels, wanted)) found.push(join(stateDir, name));
    }
    for (const id of await taggedSessionIds()) {
      if (matches(seen.get(id), wanted)) found.push(`process of session ${id}`);
    }
    return found;
  };
}

function matches(labels: Labels | undefined, wanted: Labels): boolean {
  return labels !== undefined && Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

async function listDir(dir: string): Promise<string[]> {
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
  const prefix = `${sessionTag}=`;
  let pids: string[];
  try {
    pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  } catch {
    return ids; // no procfs: only the directories can be checked
  }
  await Promise.all(
    pids.map(async (pid) => {
      let environ: string;
      try {
        environ = await readFile(`/proc/${pid}/environ`, "latin1");
      } catch {
        return; // exited meanwhile, or not ours to read
      }
      for (const entry of environ.split("\0")) {
        if (entry.startsWith(prefix)) ids.add(entry.slice(prefix.length));
      }
    }),
  );
  return ids;
}
