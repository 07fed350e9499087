import { randomBytes } from "node:crypto";
import {
  type BackendHooks,
  buildSessionLabels,
  type ForeignBackendObject,
} from "@cadre/agent-runtime-provider-utils";
import Docker from "dockerode";
import { LabelCodec } from "./labels.js";
import { connectionOptions, type DockerProviderOptions, defaultImage } from "./options.js";

/**
 * The conformance suite's hooks on the daemon: containers by label for the leak checks (by name),
 * a session's container labels as stored, and running look-alikes that a careless provider would
 * take for sessions of `labelPrefix` (default: the contract's): one without any session label,
 * one of another deployment (another prefix), one whose session-id label names another id, one
 * whose provider label is another provider's. They stop by themselves after ten minutes and are
 * then removed (AutoRemove), should a run die before removing them.
 */
export interface DockerBackendHooks extends BackendHooks {
  plantForeignObjects(labelPrefix?: string): Promise<ForeignBackendObject[]>;
}

/** Marks the planted containers, so that a leftover is recognisable in `docker ps`. */
const foreignLabel = "cadre.test/foreign-object";

export function dockerBackendHooks(options: DockerProviderOptions = {}): DockerBackendHooks {
  const docker = new Docker(connectionOptions(options));
  const image = options.image ?? defaultImage;
  return {
    async findBackendLeftovers(labels) {
      const containers = await docker.listContainers({
        all: true,
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      });
      return containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ""));
    },
    async readBackendLabels(sessionId) {
      const info = await docker.getContainer(sessionId).inspect();
      return JSON.stringify(info.Config.Labels ?? {});
    },
    async plantForeignObjects(labelPrefix) {
      const created: ForeignBackendObject[] = [];
      try {
        for (const [name, description, labels] of lookalikes(labelPrefix)) {
          const container = await docker.createContainer({
            name,
            Image: image,
            Cmd: ["sleep", "600"],
            Labels: { ...labels, [foreignLabel]: "1" },
            HostConfig: { AutoRemove: true, NetworkMode: "none" },
          });
          created.push(foreignContainer(container, name, description));
          await container.start();
        }
      } catch (error) {
        await Promise.all(created.map((o) => o.remove()));
        throw error;
      }
      return created;
    },
  };
}

const hex = () => randomBytes(8).toString("hex");

/** A session that expired long ago, so that a careless reap() would take it. */
function expiredSessionLabels(sessionId: string, providerId = "docker"): Record<string, string> {
  return buildSessionLabels({
    sessionId,
    providerId,
    policy: { ttlMs: 1 },
    createdAt: new Date("2001-01-01T00:00:00Z"),
    owner: "another-host/boot/pidns/1/1",
  });
}

/** [name, description, labels] of each look-alike. */
function lookalikes(labelPrefix: string | undefined): [string, string, Record<string, string>][] {
  const codec = new LabelCodec(labelPrefix);
  const otherDeployment = `cadre-${hex()}`;
  const otherProvider = `cadre-${hex()}`;
  return [
    [`project-db-${hex()}`, "a container named like a session id, without session labels", {}],
    [
      otherDeployment,
      "a session of another deployment (another label prefix)",
      new LabelCodec(`com.example.foreign-${hex()}/`).toDocker(
        expiredSessionLabels(otherDeployment),
      ),
    ],
    [
      `cadre-${hex()}`,
      "a container whose session-id label names another id",
      codec.toDocker(expiredSessionLabels(`cadre-${hex()}`)),
    ],
    [
      otherProvider,
      "a container with this prefix's session labels of the provider kata",
      codec.toDocker(expiredSessionLabels(otherProvider, "kata")),
    ],
  ];
}

function foreignContainer(
  container: Docker.Container,
  id: string,
  description: string,
): ForeignBackendObject {
  return {
    id,
    description,
    async alive() {
      const info = await container.inspect().catch(() => undefined);
      return info?.State.Running === true && info.Name === `/${id}`;
    },
    async remove() {
      await container.remove({ force: true }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
      });
    },
  };
}
