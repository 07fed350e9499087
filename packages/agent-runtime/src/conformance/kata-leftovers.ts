import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerdClient } from "@cadre/agent-runtime-provider-kata";
import type { KataConfig } from "../config/schema.js";
import { importProviderModule, requireExport } from "../providers/import-provider.js";
import { providerModuleSpecifier } from "../providers/packages.js";

type Labels = Record<string, string>;

// The Kata provider's defaults (its options.ts), for configs that leave these out.
const defaultAddress = "/run/containerd/containerd.sock";
const defaultNamespace = "cadre";
const defaultSnapshotter = "overlayfs";
const defaultFifoDir = "/run/cadre/kata";

/**
 * Reads containerd directly (its gRPC API, not the provider) for every object carrying the
 * labels: containers and their tasks, snapshots, leases, and the per-session FIFO directories
 * (each holds a labels.json copy).
 */
export function kataLeftovers(kata: KataConfig | undefined): (wanted: Labels) => Promise<string[]> {
  const address = kata?.address ?? process.env.CONTAINERD_ADDRESS ?? defaultAddress;
  const namespace = kata?.namespace ?? defaultNamespace;
  const snapshotter = kata?.snapshotter ?? defaultSnapshotter;
  const fifoDir = kata?.fifoDir ?? defaultFifoDir;
  return async (wanted) => {
    const client = await containerdClient(address, namespace);
    try {
      const found: string[] = [];
      for (const container of await client.listContainers()) {
        if (!matches(container.labels, wanted)) continue;
        found.push(`container ${container.id}`);
        const task = await client.getProcess(container.id).then(
          () => true,
          () => false,
        );
        if (task) found.push(`task ${container.id}`);
      }
      for (const snapshot of await client.listSnapshots(snapshotter)) {
        if (matches(snapshot.labels, wanted)) found.push(`snapshot ${snapshot.name}`);
      }
      for (const lease of await client.listLeases()) {
        if (matches(lease.labels, wanted)) found.push(`lease ${lease.id}`);
      }
      for (const dir of await fifoDirsWithLabels(fifoDir, wanted)) found.push(`fifo dir ${dir}`);
      return found;
    } finally {
      client.close();
    }
  };
}

async function containerdClient(address: string, namespace: string): Promise<ContainerdClient> {
  const specifier = providerModuleSpecifier("kata");
  const module = await importProviderModule("kata", { specifier });
  const Client = requireExport<typeof ContainerdClient>(
    module,
    "ContainerdClient",
    "kata",
    specifier,
  );
  return new Client({ address, namespace });
}

function matches(labels: Labels | undefined, wanted: Labels): boolean {
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}

async function fifoDirsWithLabels(root: string, wanted: Labels): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const name of names) {
    try {
      const labels = JSON.parse(await readFile(join(root, name, "labels.json"), "utf8")) as Labels;
      if (matches(labels, wanted)) found.push(join(root, name));
    } catch {
      // not a session's directory
    }
  }
  return found;
}
