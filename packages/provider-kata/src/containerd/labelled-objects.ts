import { sessionLabels } from "@cadre/agent-runtime-contract";
import { SessionDirectories } from "../io/session-dir.js";
import { type KataProviderOptions, resolveOptions } from "../options.js";
import { ContainerdClient } from "./client.js";
import { isEndRecordLease } from "./end-records.js";

export type LabelledObjectKind = "container" | "task" | "snapshot" | "lease" | "fifo dir";

export interface LabelledObject {
  kind: LabelledObjectKind;
  id: string;
}

/**
 * Every object a session of this provider can own, read from containerd itself (not through the
 * provider), that carries all of `wanted`: containers and their tasks, snapshots, leases, and the
 * FIFO directories (each holds a labels.json copy). An empty `wanted` matches everything in the
 * namespace. For leak checks: what destroySession and reap must leave empty. A task whose
 * container is gone (its shim still running) has no labels left: it is reported when `wanted`
 * is empty or names its id as the session id. Ended sessions' records (leases `<id>-ended`, see
 * end-records.ts) are not objects of a session: they are kept by design after it is gone, carry
 * its labels only under their own prefix, and are left out even when `wanted` is empty.
 */
export async function findLabelledObjects(
  options: KataProviderOptions,
  wanted: Record<string, string>,
): Promise<LabelledObject[]> {
  const { address, namespace, snapshotter, fifoDir } = resolveOptions(options);
  const client = new ContainerdClient({ address, namespace });
  try {
    const found: LabelledObject[] = [];
    const containers = await client.listContainers();
    for (const container of containers) {
      if (!carries(container.labels, wanted)) continue;
      found.push({ kind: "container", id: container.id });
      const hasTask = await client.getProcess(container.id).then(
        () => true,
        () => false,
      );
      if (hasTask) found.push({ kind: "task", id: container.id });
    }
    const withContainer = new Set(containers.map((c) => c.id));
    const named = wanted[sessionLabels.sessionId];
    const onlyNamed = Object.keys(wanted).every((k) => k === sessionLabels.sessionId);
    for (const task of await client.listTasks()) {
      // containerd names a task by its container's id (the init process has no exec id).
      const id = task.container_id || task.id;
      if (withContainer.has(id)) continue;
      if (onlyNamed && (named === undefined || named === id)) found.push({ kind: "task", id });
    }
    for (const snapshot of await client.listSnapshots(snapshotter)) {
      if (carries(snapshot.labels, wanted)) found.push({ kind: "snapshot", id: snapshot.name });
    }
    for (const lease of await client.listLeases()) {
      if (isEndRecordLease(lease)) continue;
      if (carries(lease.labels, wanted)) found.push({ kind: "lease", id: lease.id });
    }
    for (const dir of await new SessionDirectories(fifoDir).find(wanted)) {
      found.push({ kind: "fifo dir", id: dir });
    }
    return found;
  } finally {
    client.close();
  }
}

function carries(labels: Record<string, string> | undefined, wanted: Record<string, string>) {
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}
