import { randomBytes } from "node:crypto";
import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import {
  type BackendHooks,
  expiredSessionLabels,
  type ForeignBackendObject,
} from "@cadre/agent-runtime-provider-utils";
import { dockerConnection } from "./connection.js";
import { sessionDefaults } from "./container-spec.js";
import { type ContainerRef, DockerClient } from "./docker-client.js";
import { endRecordLabel } from "./end-records.js";
import { runtimeRegistered } from "./host-facts.js";
import { LabelCodec } from "./labels.js";
import { type DockerProviderOptions, defaultImage } from "./options.js";

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
  const client = new DockerClient(dockerConnection(options));
  const image = options.image ?? defaultImage;
  return {
    async findBackendLeftovers(labels) {
      const containers = await client.listContainers(
        Object.entries(labels).map(([k, v]) => `${k}=${v}`),
      );
      return containers.map((c) => (c.names[0] ?? c.id).replace(/^\//, ""));
    },
    async findEndRecords(labels) {
      const endKey = new LabelCodec(options.labelPrefix).toDockerKey(endRecordLabel);
      // Every volume, matched here: Podman 4 honours only some of a listing's label filters.
      const volumes = await client.listVolumes([]);
      return volumes
        .filter(
          (v) =>
            v.labels[endKey] !== undefined &&
            Object.entries(labels).every(([key, value]) => v.labels[key] === value),
        )
        .map((v) => `${v.name} ${JSON.stringify(v.labels)}`);
    },
    async killFromOutside(sessionId) {
      await client.killContainer({ id: sessionId, sessionId });
    },
    async readBackendLabels(sessionId) {
      const info = await client.inspectContainer({ id: sessionId, sessionId });
      if (!info) throw new Error(`no container named ${sessionId}`);
      return JSON.stringify(info.labels);
    },
    async plantForeignObjects(labelPrefix) {
      const created: ForeignBackendObject[] = [];
      try {
        for (const [name, description, labels] of lookalikes(labelPrefix)) {
          const id = await client.createContainer({
            name,
            Image: image,
            Cmd: ["sleep", "600"],
            Labels: { ...labels, [foreignLabel]: "1" },
            HostConfig: {
              AutoRemove: true,
              NetworkMode: "none",
              // Within the hard limits Podman runs under (see container-spec.ts).
              Ulimits: [
                { Name: "nofile", Soft: sessionDefaults.nofile, Hard: sessionDefaults.nofile },
                { Name: "nproc", Soft: sessionDefaults.nproc, Hard: sessionDefaults.nproc },
              ],
            },
          });
          const container = { id, sessionId: name };
          created.push(foreignContainer(client, container, description));
          await client.startContainer(container);
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
        expiredSessionLabels(otherDeployment, "docker"),
      ),
    ],
    [
      `cadre-${hex()}`,
      "a container whose session-id label names another id",
      codec.toDocker(expiredSessionLabels(`cadre-${hex()}`, "docker")),
    ],
    [
      otherProvider,
      "a container with this prefix's session labels of the provider kata",
      codec.toDocker(expiredSessionLabels(otherProvider, "kata")),
    ],
  ];
}

function foreignContainer(
  client: DockerClient,
  container: ContainerRef,
  description: string,
): ForeignBackendObject {
  const name = container.sessionId;
  return {
    id: name,
    description,
    async alive() {
      const info = await client.inspectContainer(container).catch(() => undefined);
      return info?.running === true && info.name === `/${name}`;
    },
    // A container that is gone, or being removed (AutoRemove once it stopped), counts as removed.
    remove: () => client.removeContainer(container),
  };
}

/**
 * Why the Docker conformance suites cannot run against the daemon of `options` (not reachable,
 * its runtime not registered, its image missing), or undefined when they can: the
 * `unavailableReason` of runConformance() for this provider.
 */
export async function dockerUnavailableReason(
  options: DockerProviderOptions = {},
): Promise<string | undefined> {
  const client = new DockerClient(dockerConnection(options));
  const runtime = options.runtime ?? "runc";
  const image = options.image ?? defaultImage;
  const answerWithinMs = 5_000;
  const deadline = AbortSignal.timeout(answerWithinMs);
  try {
    await client.ping(deadline);
  } catch (error) {
    return deadline.aborted
      ? `the Docker daemon at ${client.address} did not answer within ${answerWithinMs} ms`
      : `the Docker daemon is not reachable: ${failure(error)}`;
  }
  const facts = await client.hostFacts().catch((error: unknown) => failure(error));
  if (typeof facts === "string") return `cannot read the Docker daemon's info: ${facts}`;
  if (!runtimeRegistered(facts, runtime)) {
    return `the Docker daemon at ${client.address} has no runtime "${runtime}" (run \`bash scripts/services.sh up\`)`;
  }
  if (!(await client.imageStatus(image)).present) {
    return `the image ${image} is missing (run \`bash scripts/services.sh up\`)`;
  }
  return undefined;
}

/** What went wrong, with the failed check's detail when the error carries one. */
function failure(error: unknown): string {
  const detail = ProviderUnavailableError.isInstance(error) ? error.checks[0]?.detail : undefined;
  return detail ?? (error instanceof Error ? error.message : String(error));
}
