import { randomBytes } from "node:crypto";
import { engineUnavailableReason, type ForeignObject } from "@cadre/agent-runtime-conformance";
import { buildSessionLabels } from "@cadre/agent-runtime-provider-utils";
import Docker from "dockerode";
import { LabelCodec } from "../src/labels.js";
import { connectionOptions } from "../src/options.js";

/** The image every test session uses. */
export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

/** Direct access to the daemon, to read the backend without the provider. */
export const docker = new Docker(connectionOptions({}));

/**
 * Why the Docker tests cannot run here (daemon down, runtime or image missing), or undefined.
 * Outside CI the suites skip with this reason; under CI=true they fail.
 */
export async function dockerUnavailableReason(
  runtime: "runc" | "runsc",
): Promise<string | undefined> {
  const down = await engineUnavailableReason("the Docker daemon", () => docker.ping());
  if (down) return down;
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  if (!info.Runtimes?.[runtime]) {
    return `the Docker daemon has no runtime "${runtime}" (run \`bash scripts/services.sh up\`)`;
  }
  try {
    await docker.getImage(testImage).inspect();
  } catch {
    return `the image ${testImage} is missing (run \`bash scripts/services.sh up\`)`;
  }
  return undefined;
}

/** Names of every container, running or not, that carries all of these labels. */
export async function containersWithLabels(labels: Record<string, string>): Promise<string[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
  });
  return containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ""));
}

/** The session's container labels as the daemon stores them, raw (the conformance hook). */
export async function readBackendLabels(sessionId: string): Promise<string> {
  const info = await docker.getContainer(sessionId).inspect();
  return JSON.stringify(info.Config.Labels ?? {});
}

/** A session that expired long ago, so a careless reap() would take it. */
function expiredSessionLabels(sessionId: string, providerId = "docker"): Record<string, string> {
  return buildSessionLabels({
    sessionId,
    providerId,
    policy: { ttlMs: 1 },
    createdAt: new Date("2001-01-01T00:00:00Z"),
    owner: "another-host/boot/pidns/1/1",
  });
}

const hex = () => randomBytes(8).toString("hex");

/**
 * Containers that a careless provider would take for sessions of `labelPrefix` (default: the
 * contract's), each
 * running and named like a session id (the conformance hook): one without any session label, one
 * of another deployment (the same labels under another prefix), one whose session-id label names
 * another id, one whose provider label is another provider's. They stop by themselves after ten
 * minutes and are removed then (AutoRemove), should a test run die before removing them.
 */
export async function plantForeignObjects(labelPrefix?: string): Promise<ForeignObject[]> {
  const codec = new LabelCodec(labelPrefix);
  const planted: [string, string, Record<string, string>][] = [];
  const project = `project-db-${hex()}`;
  planted.push([project, "a container named like a session id, without session labels", {}]);
  const otherDeployment = `cadre-${hex()}`;
  planted.push([
    otherDeployment,
    "a session of another deployment (another label prefix)",
    new LabelCodec(`com.example.foreign-${hex()}/`).toDocker(expiredSessionLabels(otherDeployment)),
  ]);
  const mismatched = `cadre-${hex()}`;
  planted.push([
    mismatched,
    "a container whose session-id label names another id",
    codec.toDocker(expiredSessionLabels(`cadre-${hex()}`)),
  ]);
  const otherProvider = `cadre-${hex()}`;
  planted.push([
    otherProvider,
    "a container with this prefix's session labels of the provider kata",
    codec.toDocker(expiredSessionLabels(otherProvider, "kata")),
  ]);
  const created: ForeignObject[] = [];
  try {
    for (const [name, description, labels] of planted) {
      const container = await docker.createContainer({
        name,
        Image: testImage,
        Cmd: ["sleep", "600"],
        Labels: { ...labels, [foreignLabel]: "1" },
        HostConfig: { AutoRemove: true, NetworkMode: "none" },
      });
      created.push(foreignObject(container, name, description));
      await container.start();
    }
  } catch (error) {
    await Promise.all(created.map((o) => o.remove()));
    throw error;
  }
  return created;
}

/** Marks the planted containers, so that a leftover is recognisable in `docker ps`. */
const foreignLabel = "cadre.test/foreign-object";

function foreignObject(
  container: Docker.Container,
  id: string,
  description: string,
): ForeignObject {
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
