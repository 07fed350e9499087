import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type DockerConnection, dockerBackendHooks } from "@cadre/agent-runtime-provider-docker";
import { findLabelledObjects, type LabelledObjectKind } from "@cadre/agent-runtime-provider-kata";

/** Backend objects by kind ("containers", "tasks", ...), counted by their labels. */
export type Census = Record<string, number>;

function hasLabels(labels: Record<string, string> | undefined, wanted: Record<string, string>) {
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}

/** Containers of a Docker daemon that carry every one of `labels`, running or not. */
export async function dockerCensus(
  connection: DockerConnection,
  labels: Record<string, string>,
): Promise<Census> {
  const containers = await dockerBackendHooks(connection).findBackendLeftovers(labels);
  return { containers: containers.length };
}

export interface ContainerdCensusInput {
  address: string;
  namespace: string;
  fifoDir: string;
  snapshotter?: string;
}

/**
 * What a containerd session owns, read from containerd itself: containers, their tasks,
 * snapshots and leases carrying `labels`, and FIFO directories whose labels.json carries them.
 * Without labels (an empty object) everything in the namespace counts.
 */
export async function containerdCensus(
  input: ContainerdCensusInput,
  labels: Record<string, string>,
): Promise<Census> {
  const census: Census = { containers: 0, tasks: 0, snapshots: 0, leases: 0, fifoDirs: 0 };
  for (const { kind } of await findLabelledObjects(input, labels)) {
    const key = censusKeys[kind];
    census[key] = (census[key] ?? 0) + 1;
  }
  return census;
}

const censusKeys: Record<LabelledObjectKind, string> = {
  container: "containers",
  task: "tasks",
  snapshot: "snapshots",
  lease: "leases",
  "fifo dir": "fifoDirs",
};

/** Session directories of the stub whose session.json carries `labels`. */
export async function stubCensus(
  stateDir: string,
  labels: Record<string, string>,
): Promise<Census> {
  const count = await labelledDirectories(stateDir, "session.json", labels, (record) =>
    typeof record === "object" && record !== null && "labels" in record
      ? (record as { labels: Record<string, string> }).labels
      : undefined,
  );
  return { sessionDirs: count };
}

/**
 * Subdirectories of `root` whose `file` (JSON) carries `labels`. A directory whose file cannot be
 * read counts too: a half-removed session is a leak.
 */
async function labelledDirectories(
  root: string,
  file: string,
  labels: Record<string, string>,
  labelsOf: (json: unknown) => Record<string, string> | undefined = (json) =>
    json as Record<string, string>,
): Promise<number> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return 0;
  }
  let count = 0;
  for (const name of names) {
    // A dot directory is the backend's own (the stub keeps ended sessions' records in .ended).
    if (name.startsWith(".")) continue;
    let found: Record<string, string> | undefined;
    try {
      found = labelsOf(JSON.parse(await readFile(join(root, name, file), "utf8")));
    } catch {
      if (Object.keys(labels).length === 0) count++;
      continue;
    }
    if (hasLabels(found, labels)) count++;
  }
  return count;
}

export function censusTotal(census: Census): number {
  return Object.values(census).reduce((sum, n) => sum + n, 0);
}
