import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { sessionLabels } from "@cadre/agent-runtime-contract";
import type { ContainerdClient, findLabelledObjects } from "@cadre/agent-runtime-provider-kata";
import type { KataConfig } from "../config/schema.js";
import { importProviderModule, requireExport } from "../providers/import-provider.js";
import { providerModuleSpecifier } from "../providers/packages.js";
import type { BackendHooks, ForeignObject } from "./backend-hooks.js";
import { foreignSessionId, sameLabels } from "./foreign-objects.js";

/**
 * The suite's backend hooks for containerd, through its gRPC API (the Kata package's client, not
 * the provider): labelled objects for leak checks, the labels of a session's container, snapshot,
 * lease and FIFO directory, and planted containers named like sessions that are not.
 */
export function kataBackend(kata: KataConfig | undefined): BackendHooks {
  const options = kata ?? {};
  const address =
    options.address ?? process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock";
  const namespace = options.namespace ?? "cadre";
  const load = async () => {
    const specifier = providerModuleSpecifier("kata");
    const module = await importProviderModule("kata", { specifier });
    return {
      find: requireExport<typeof findLabelledObjects>(
        module,
        "findLabelledObjects",
        "kata",
        specifier,
      ),
      Client: requireExport<typeof ContainerdClient>(module, "ContainerdClient", "kata", specifier),
    };
  };
  const withClient = async <T>(use: (client: ContainerdClient) => Promise<T>): Promise<T> => {
    const { Client } = await load();
    const client = new Client({ address, namespace });
    try {
      return await use(client);
    } finally {
      client.close();
    }
  };

  return {
    findBackendLeftovers: async (wanted) => {
      const { find } = await load();
      return (await find(options, wanted)).map((o) => `${o.kind} ${o.id}`);
    },
    readBackendLabels: (sessionId) =>
      withClient(async (client) => {
        const filter = `labels."${sessionLabels.sessionId}"==${sessionId}`;
        const snapshotter = options.snapshotter ?? "overlayfs";
        const records = {
          containers: (await client.listContainers([filter])).map((c) => c.labels),
          snapshots: (await client.listSnapshots(snapshotter, [filter])).map((s) => s.labels),
          leases: (await client.listLeases([filter])).map((l) => l.labels),
          fifoDir: await readFile(
            join(options.fifoDir ?? "/run/cadre/kata", sessionId, "labels.json"),
            "utf8",
          ).catch(() => ""),
        };
        return JSON.stringify(records);
      }),
    plantForeignObjects: () =>
      withClient(async (client) => {
        const plants: Array<[string, (id: string) => Record<string, string>]> = [
          ["container named like a session, without session labels", () => ({})],
          [
            "session of another deployment (label prefix acme.agent-runtime/)",
            (id) => ({
              "acme.agent-runtime/session-id": id,
              "acme.agent-runtime/provider": "kata",
            }),
          ],
          [
            "container whose session-id label names another session",
            () => ({
              [sessionLabels.sessionId]: foreignSessionId(),
              [sessionLabels.provider]: "kata",
              [sessionLabels.createdAt]: new Date().toISOString(),
              [sessionLabels.owner]: "planted/-/-/1/1",
            }),
          ],
        ];
        const planted: ForeignObject[] = [];
        for (const [description, labelsFor] of plants) {
          const id = foreignSessionId();
          const labels = labelsFor(id);
          try {
            await client.createContainer({
              id,
              labels,
              runtime: { name: options.runtime ?? "io.containerd.kata.v2" },
              spec: {
                type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
                value: Buffer.from(JSON.stringify({ ociVersion: "1.1.0" })),
              },
            });
          } catch (error) {
            await Promise.all(planted.map((p) => p.remove()));
            throw error;
          }
          planted.push({
            id,
            description,
            alive: () =>
              withClient(async (c) => {
                const found = await c.getContainer(id).catch(() => undefined);
                return sameLabels(found?.labels, labels);
              }),
            remove: () =>
              withClient(async (c) => {
                await c.deleteContainer(id).catch((error: Error) => {
                  if (!/not found/i.test(error.message)) throw error;
                });
              }),
          });
        }
        return planted;
      }),
  };
}
