import { randomBytes } from "node:crypto";
import {
  type BackendHooks,
  expiredSessionLabels,
  type ForeignBackendObject,
} from "@cadre/agent-runtime-provider-utils";
import { miniDockerId } from "./capabilities.js";
import { DockerApi } from "./docker-api.js";
import type { MiniDockerOptions } from "./options.js";

/** Marks what plantForeignObjects() creates, so that a leftover is recognisable in `docker ps`. */
const foreignLabel = "cadre.test/foreign-object";

/**
 * What the conformance suite reads in the engine itself, never through the provider: containers
 * by label, one container's labels as stored, and running look-alikes that a careless provider
 * would take for its sessions.
 */
export function miniDockerBackendHooks(options: MiniDockerOptions): BackendHooks {
  const api = new DockerApi(options.socketPath, miniDockerId);
  return {
    async findBackendLeftovers(labels) {
      const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
      const containers = await api.docker.listContainers({ all: true, filters: { label } });
      return containers.map((c) => c.Names[0] ?? c.Id);
    },
    async killFromOutside(sessionId) {
      await api.docker.getContainer(sessionId).kill({ signal: "SIGKILL" });
    },
    async readBackendLabels(sessionId) {
      const info = await api.docker.getContainer(sessionId).inspect();
      return JSON.stringify(info.Config.Labels);
    },
    async plantForeignObjects() {
      const planted: ForeignBackendObject[] = [];
      try {
        for (const [description, labelsFor] of lookalikes()) {
          const name = sessionIdLike();
          const container = await api.docker.createContainer({
            name,
            Image: options.image,
            Cmd: ["sleep", "600"],
            Labels: { ...labelsFor(name), [foreignLabel]: "1" },
            // Should a run die before removing it, it goes by itself within ten minutes.
            HostConfig: { AutoRemove: true, NetworkMode: "none" },
          });
          planted.push({
            id: name,
            description,
            alive: () =>
              container.inspect().then(
                (info) => info.State.Running,
                () => false,
              ),
            remove: () => container.remove({ force: true }).catch(() => {}),
          });
          await container.start();
        }
      } catch (error) {
        await Promise.all(planted.map((p) => p.remove()));
        throw error;
      }
      return planted;
    },
  };
}

const sessionIdLike = () => `cadre-${randomBytes(8).toString("hex")}`;

function lookalikes(): Array<[string, (name: string) => Record<string, string>]> {
  return [
    ["a container named like a session, without session labels", () => ({})],
    ["an expired session of another provider", (name) => expiredSessionLabels(name, "docker")],
    [
      "an expired session whose label names another id",
      () => expiredSessionLabels(sessionIdLike(), miniDockerId),
    ],
  ];
}
