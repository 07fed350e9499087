import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ForeignObject } from "@cadre/agent-runtime-conformance";
import { buildSessionLabels, newSessionId } from "@cadre/agent-runtime-provider-utils";
import { ContainerdClient } from "../../src/containerd/client.js";
import { isNotFound } from "../../src/containerd/grpc-errors.js";
import { findLabelledObjects } from "../../src/containerd/labelled-objects.js";
import type { KataProviderOptions } from "../../src/options.js";
import { specTypeUrl } from "../../src/spec/oci-types.js";

/** The private containerd of scripts/services.sh (docs/test-services.md). */
export const containerdAddress =
  process.env.CADRE_CONTAINERD_ADDRESS ?? "/run/cadre-test/containerd.sock";
export const testImage = process.env.CADRE_TEST_IMAGE ?? "docker.io/cadre-test/busybox:1";
export const testImageArchive = "/var/lib/cadre-test/busybox.tar";
export const fifoDir = "/run/cadre-test/kata-fifo";
export const shimDir = "/var/lib/cadre-test/shim-bin";
export const runscBinary = `${shimDir}/runsc-cadre`;
export const namespace = "cadre";

export type Variant = "kata-stand-in" | "runc" | "runsc";

/** The provider options of each way CI drives the containerd path. */
export function variantOptions(variant: Variant): KataProviderOptions {
  const common = {
    address: containerdAddress,
    namespace,
    image: testImage,
    fifoDir,
    shimSearchPath: [shimDir],
  };
  switch (variant) {
    case "kata-stand-in":
      return { ...common, runtime: "io.containerd.kata.v2", unsafeUseStandInShim: true };
    case "runc":
      return { ...common, runtime: "io.containerd.runc.v2" };
    case "runsc":
      return {
        ...common,
        runtime: "io.containerd.runc.v2",
        runtimeOptions: { BinaryName: runscBinary },
      };
  }
}

/** Why containerd cannot be used here, or undefined when it answers. */
export async function containerdUnavailableReason(): Promise<string | undefined> {
  const client = new ContainerdClient({ address: containerdAddress, namespace });
  try {
    await client.version(5000);
    await client.getImage(testImage);
    return undefined;
  } catch (error) {
    return `containerd at ${containerdAddress} with image ${testImage} is not usable (${(error as Error).message}); run scripts/services.sh up as root`;
  } finally {
    client.close();
  }
}

/**
 * Every backend object still carrying all of `wanted`, read from containerd directly (not through
 * the provider): containers, tasks, snapshots, leases and FIFO directories.
 */
export async function findBackendLeftovers(wanted: Record<string, string>): Promise<string[]> {
  const found = await findLabelledObjects(
    { address: containerdAddress, namespace, fifoDir },
    wanted,
  );
  return found.map((o) => `${o.kind} ${o.id}`);
}

const snapshotter = "overlayfs";

/** A client of the test containerd, closed after `use`. */
async function withClient<T>(use: (client: ContainerdClient) => Promise<T>): Promise<T> {
  const client = new ContainerdClient({ address: containerdAddress, namespace });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function orNothing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Every label containerd keeps for a session, read from containerd directly: its container,
 * snapshot and lease, and the labels.json of its FIFO directory, as JSON text.
 */
export async function readBackendLabels(sessionId: string): Promise<string> {
  return withClient(async (client) => {
    const container = await orNothing(client.getContainer(sessionId));
    const snapshot = await orNothing(client.statSnapshot(snapshotter, sessionId));
    const lease = (await client.listLeases([`id=="${sessionId}"`])).find((l) => l.id === sessionId);
    const dirLabels = await orNothing(readFile(join(fifoDir, sessionId, "labels.json"), "utf8"));
    return JSON.stringify({
      container: container?.labels,
      snapshot: snapshot?.labels,
      lease: lease?.labels,
      fifoDir: dirLabels === undefined ? undefined : JSON.parse(dirLabels),
    });
  });
}

/** Marks what the tests plant, so a leftover is recognisable. */
const plantedLabel = { "cadre.test/planted": "foreign" };

/**
 * Containers (without tasks) that a careless provider would take for its sessions, created with
 * containerd directly: one named like a session without session labels, one with the session
 * labels of another provider, one of another deployment (its own label prefix), one whose name
 * and session label disagree.
 */
export async function plantForeignObjects(): Promise<ForeignObject[]> {
  const other = newSessionId();
  const otherPrefix = (labels: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(labels).map(([k, v]) => [
        k.replace(/^cadre\.agent-runtime\//, "acme.sandbox/"),
        v,
      ]),
    );
  const plans: { description: string; labels: (id: string) => Record<string, string> }[] = [
    { description: "container named like a session, without session labels", labels: () => ({}) },
    {
      description: "container with the session labels of another provider",
      labels: (id) => buildSessionLabels({ sessionId: id, providerId: "docker", policy: {} }),
    },
    {
      description: "container of another deployment (another label prefix)",
      labels: (id) =>
        otherPrefix(buildSessionLabels({ sessionId: id, providerId: "kata", policy: {} })),
    },
    {
      description: `container whose session label names another id (${other})`,
      labels: () => buildSessionLabels({ sessionId: other, providerId: "kata", policy: {} }),
    },
  ];
  const planted: ForeignObject[] = [];
  await withClient(async (client) => {
    for (const plan of plans) {
      const id = newSessionId();
      const labels = { ...plan.labels(id), ...plantedLabel };
      await client.createContainer({
        id,
        labels,
        image: testImage,
        runtime: { name: "io.containerd.runc.v2" },
        spec: { type_url: specTypeUrl, value: Buffer.from("{}") },
      });
      planted.push(foreignContainer(id, plan.description, labels));
    }
  });
  return planted;
}

function foreignContainer(
  id: string,
  description: string,
  labels: Record<string, string>,
): ForeignObject {
  return {
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
  };
}

function sorted(labels: Record<string, string> | undefined): [string, string][] | undefined {
  return labels && Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
}

/** Session labels of this provider for `id`, as a hand-made container would carry them. */
export function kataSessionLabels(id: string): Record<string, string> {
  return buildSessionLabels({ sessionId: id, providerId: "kata", policy: {} });
}
