import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BackendHooks,
  buildSessionLabels,
  type ForeignBackendObject,
  newSessionId,
} from "@cadre/agent-runtime-provider-utils";
import { ContainerdClient } from "./containerd/client.js";
import {
  endRecordLabels,
  isEndRecordLease,
  recordedSessionLabels,
} from "./containerd/end-records.js";
import { isNotFound } from "./containerd/grpc-errors.js";
import { findLabelledObjects } from "./containerd/labelled-objects.js";
import { type KataProviderOptions, resolveOptions } from "./options.js";
import { specTypeUrl } from "./spec/oci-types.js";

/**
 * The conformance suite's hooks on containerd, read and written directly: labelled objects
 * (containers, tasks, snapshots, leases, FIFO directories) for the leak checks, ended sessions'
 * records (leases `<id>-ended` whose labels hold the session's under a prefix), the labels of a
 * session's container, snapshot, lease and FIFO directory, and look-alike containers without
 * tasks: one named like a session without session labels, one with another provider's session
 * labels, one of another deployment (its own label prefix), one whose name and label disagree.
 */
/** Marks what is planted, so that a leftover is recognisable. */
const plantedLabel = { "cadre.test/planted": "foreign" };

export function kataBackendHooks(options: KataProviderOptions = {}): BackendHooks {
  const { address, namespace, fifoDir, snapshotter, image } = resolveOptions(options);
  const withClient = async <T>(use: (client: ContainerdClient) => Promise<T>): Promise<T> => {
    const client = new ContainerdClient({ address, namespace });
    try {
      return await use(client);
    } finally {
      client.close();
    }
  };
  const foreign = (
    id: string,
    description: string,
    labels: Record<string, string>,
  ): ForeignBackendObject => ({
    id,
    description,
    alive: () =>
      withClient(async (client) => {
        const container = await orNothing(client.getContainer(id));
        return JSON.stringify(sorted(container?.labels)) === JSON.stringify(sorted(labels));
      }),
    remove: () =>
      withClient(async (client) => {
        await orNothing(client.deleteContainer(id));
      }),
  });

  return {
    killFromOutside: (sessionId) =>
      withClient(async (client) => {
        // SIGKILL to the task's first process, as `ctr task kill -s SIGKILL` would.
        await client.kill(sessionId, 9);
      }),
    async findBackendLeftovers(wanted) {
      const found = await findLabelledObjects({ address, namespace, fifoDir }, wanted);
      return found.map((o) => `${o.kind} ${o.id}`);
    },
    findEndRecords: (wanted) =>
      withClient(async (client) => {
        // Every lease that is a record, read as containerd holds it (not through the provider's
        // store, which leaves out what it cannot read back).
        const leases = (await client.listLeases([`labels."${endRecordLabels.end}"`])).filter(
          isEndRecordLease,
        );
        return leases
          .filter((lease) => carries(recordedSessionLabels(lease.labels), wanted))
          .map((lease) => `${lease.id} ${JSON.stringify(lease.labels)}`);
      }),
    readBackendLabels: (sessionId) =>
      withClient(async (client) => {
        const container = await orNothing(client.getContainer(sessionId));
        const snapshot = await orNothing(client.statSnapshot(snapshotter, sessionId));
        const leases = await client.listLeases([`id=="${sessionId}"`]);
        const lease = leases.find((l) => l.id === sessionId);
        const dirLabels = await orNothing(
          readFile(join(fifoDir, sessionId, "labels.json"), "utf8"),
        );
        return JSON.stringify({
          container: container?.labels,
          snapshot: snapshot?.labels,
          lease: lease?.labels,
          fifoDir: dirLabels === undefined ? undefined : JSON.parse(dirLabels),
        });
      }),
    plantForeignObjects: () =>
      withClient(async (client) => {
        const planted: ForeignBackendObject[] = [];
        try {
          for (const plan of lookalikes()) {
            const id = newSessionId();
            const labels = { ...plan.labels(id), ...plantedLabel };
            await client.createContainer({
              id,
              labels,
              image,
              runtime: { name: "io.containerd.runc.v2" },
              spec: { type_url: specTypeUrl, value: Buffer.from("{}") },
            });
            planted.push(foreign(id, plan.description, labels));
          }
        } catch (error) {
          await Promise.allSettled(planted.map((o) => o.remove()));
          throw error;
        }
        return planted;
      }),
  };
}

function lookalikes(): { description: string; labels: (id: string) => Record<string, string> }[] {
  const other = newSessionId();
  const session = (id: string, providerId: string) =>
    buildSessionLabels({ sessionId: id, providerId, policy: {} });
  const otherPrefix = (labels: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(labels).map(([k, v]) => [
        k.replace(/^cadre\.agent-runtime\//, "acme.sandbox/"),
        v,
      ]),
    );
  return [
    { description: "container named like a session, without session labels", labels: () => ({}) },
    {
      description: "container with the session labels of another provider",
      labels: (id) => session(id, "docker"),
    },
    {
      description: "container of another deployment (another label prefix)",
      labels: (id) => otherPrefix(session(id, "kata")),
    },
    {
      description: `container whose session label names another id (${other})`,
      labels: () => session(other, "kata"),
    },
  ];
}

async function orNothing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function carries(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

function sorted(labels: Record<string, string> | undefined): [string, string][] | undefined {
  return labels && Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
}
