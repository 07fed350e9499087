import type { ParsedIsolationConfig } from "../config/parse.js";
import { dockerContainersWithLabels } from "./docker-leftovers.js";

/**
 * The suite's leak check for each provider, reading the backend without the provider under
 * test: Docker's API, containerd's containers and snapshots, the stub's state directory (through
 * a fresh stub instance, which reads only the disk).
 */
export function backendLeftovers(
  config: ParsedIsolationConfig,
): (labels: Record<string, string>) => Promise<string[]> {
  switch (config.provider) {
    case "docker":
      return (labels) => dockerContainersWithLabels(config.docker, labels);
    case "kata":
      return (labels) => containerdObjectsWithLabels(config, labels);
    case "stub":
      return (labels) => stubSessionsWithLabels(config, labels);
  }
}

async function containerdObjectsWithLabels(
  config: ParsedIsolationConfig,
  labels: Record<string, string>,
): Promise<string[]> {
  const { ContainerdClient } = await import("@cadre/agent-runtime-provider-kata");
  const client = new ContainerdClient({
    address:
      config.kata?.address ?? process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock",
    namespace: config.kata?.namespace ?? "cadre",
  });
  // One filter with every condition: containerd ANDs the comma-separated parts of a filter.
  const filter = Object.entries(labels)
    .map(([k, v]) => `labels."${k}"==${JSON.stringify(v)}`)
    .join(",");
  try {
    const containers = await client.listContainers([filter]);
    const snapshots = await client
      .listSnapshots(config.kata?.snapshotter ?? "overlayfs", [filter])
      .catch(() => []);
    return [
      ...containers.map((c) => `container ${c.id}`),
      ...snapshots.map((s) => `snapshot ${s.name}`),
    ];
  } finally {
    client.close();
  }
}

async function stubSessionsWithLabels(
  config: ParsedIsolationConfig,
  labels: Record<string, string>,
): Promise<string[]> {
  const { createStubProvider } = await import("@cadre/agent-runtime-provider-stub");
  const { acknowledgeNoIsolation: _ack, ...options } = config.stub ?? {};
  const stub = createStubProvider(options);
  try {
    return (await stub.listSessions({ labels })).map((s) => s.id);
  } finally {
    await stub.close();
  }
}
