import { buildSessionLabels } from "@cadre/agent-runtime-provider-utils";
import { kataBackendHooks } from "../../src/backend-hooks.js";
import { ContainerdClient } from "../../src/containerd/client.js";
import type { KataProviderOptions } from "../../src/options.js";
import { KataProvider } from "../../src/provider.js";

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

const hooks = kataBackendHooks(variantOptions("runc"));

/**
 * Every backend object still carrying all of `wanted`, read from containerd directly (not through
 * the provider): containers, tasks, snapshots, leases and FIFO directories.
 */
export const findBackendLeftovers = hooks.findBackendLeftovers;
/**
 * Ended sessions' records carrying all of `wanted` (the conformance hook): leases `<id>-ended`,
 * read from containerd directly, each as its name and labels.
 */
export const findEndRecords = hooks.findEndRecords!;
/**
 * After a test file: removes the end records of its sessions, labelled `labels`, as the leak check
 * does (reap with endedOlderThanMs 0), and returns what is left of them (nothing, when all is
 * well).
 */
export async function reapEndRecords(labels: Record<string, string>): Promise<string[]> {
  const provider = new KataProvider(variantOptions("runc"));
  try {
    await provider.reap({ labels, endedOlderThanMs: 0 });
  } finally {
    await provider.close();
  }
  return findEndRecords(labels);
}
/** Every label containerd keeps for a session (the conformance hook). */
export const readBackendLabels = hooks.readBackendLabels;
/** Containers named like sessions that are not (the conformance hook); see kataBackendHooks. */
export const plantForeignObjects = hooks.plantForeignObjects;
/** SIGKILL to a session's task, behind the provider's back (the conformance hook). */
export const killFromOutside = hooks.killFromOutside;

/** Session labels of this provider for `id`, as a hand-made container would carry them. */
export function kataSessionLabels(id: string): Record<string, string> {
  return buildSessionLabels({ sessionId: id, providerId: "kata", policy: {} });
}

/**
 * Tasks of the namespace whose container is gone: a shim that destroy left running. No label
 * says whose they are, so a test compares the set before and after.
 */
export async function orphanTasks(): Promise<string[]> {
  const client = new ContainerdClient({ address: containerdAddress, namespace });
  try {
    const containers = new Set((await client.listContainers()).map((c) => c.id));
    return (await client.listTasks())
      .map((t) => t.container_id || t.id)
      .filter((id) => !containers.has(id))
      .sort();
  } finally {
    client.close();
  }
}
