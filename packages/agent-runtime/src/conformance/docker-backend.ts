import { request } from "node:http";
import { sessionLabels } from "@cadre/agent-runtime-contract";
import type { DockerConfig } from "../config/schema.js";
import type { BackendHooks, ForeignObject } from "./backend-hooks.js";
import { foreignSessionId, sameLabels } from "./foreign-objects.js";

/**
 * The suite's backend hooks for Docker, through the Engine API directly rather than through the
 * provider: containers by label for leak checks, a session's container labels, and planted
 * containers named like sessions that are not.
 */
export function dockerBackend(docker: DockerConfig | undefined, image: string): BackendHooks {
  const api = engine(docker);
  return {
    findBackendLeftovers: async (labels) =>
      (await containersWithLabels(api, labels)).map((c) => c.Id),
    readBackendLabels: async (sessionId) => {
      const containers = await containersWithLabels(api, {
        [sessionLabels.sessionId]: sessionId,
      });
      return JSON.stringify(containers.map((c) => c.Labels));
    },
    plantForeignObjects: async () => {
      const plants: Array<[string, (id: string) => Record<string, string>]> = [
        ["container named like a session, without session labels", () => ({})],
        [
          "session of another deployment (label prefix acme.agent-runtime/)",
          (id) => ({
            "acme.agent-runtime/session-id": id,
            "acme.agent-runtime/provider": "docker",
          }),
        ],
        [
          "container whose session-id label names another session",
          () => ({
            [sessionLabels.sessionId]: foreignSessionId(),
            [sessionLabels.provider]: "docker",
            [sessionLabels.createdAt]: new Date().toISOString(),
            [sessionLabels.owner]: "planted/-/-/1/1",
          }),
        ],
      ];
      const planted: ForeignObject[] = [];
      try {
        for (const [description, labels] of plants) {
          planted.push(await plant(api, image, description, labels));
        }
      } catch (error) {
        await Promise.all(planted.map((p) => p.remove()));
        throw error;
      }
      return planted;
    },
  };
}

async function plant(
  api: Endpoint,
  image: string,
  description: string,
  labelsFor: (id: string) => Record<string, string>,
): Promise<ForeignObject> {
  const id = foreignSessionId();
  const labels = labelsFor(id);
  await call(api, "POST", `/containers/create?name=${id}`, {
    Image: image,
    Cmd: ["sleep", "3600"],
    Labels: labels,
    HostConfig: { NetworkMode: "none", Init: true },
  });
  const remove = async () => {
    await call(api, "DELETE", `/containers/${id}?force=1&v=1`).catch((error: Error) => {
      if (!/ 404 /.test(error.message)) throw error;
    });
  };
  try {
    await call(api, "POST", `/containers/${id}/start`);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    id,
    description,
    alive: async () => {
      const inspected = (await call(api, "GET", `/containers/${id}/json`).catch(() => undefined)) as
        | { State?: { Running?: boolean }; Config?: { Labels?: Record<string, string> } }
        | undefined;
      return (
        inspected?.State?.Running === true && sameLabels(inspected.Config?.Labels ?? {}, labels)
      );
    },
    remove,
  };
}

interface ListedContainer {
  Id: string;
  Labels: Record<string, string>;
}

async function containersWithLabels(
  api: Endpoint,
  labels: Record<string, string>,
): Promise<ListedContainer[]> {
  const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
  const path = `/containers/json?all=1&filters=${encodeURIComponent(filters)}`;
  return (await call(api, "GET", path)) as ListedContainer[];
}

type Endpoint = { socketPath: string } | { host: string; port: number };

/** One Engine API call; rejects with the status and body on anything but 2xx. */
function call(api: Endpoint, method: string, path: string, body?: unknown): Promise<unknown> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = payload ? { "content-type": "application/json" } : undefined;
  return new Promise((resolve, reject) => {
    const req = request({ ...api, method, path, headers, timeout: 30_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          reject(new Error(`Docker answered ${status} to ${method} ${path}: ${text.trim()}`));
          return;
        }
        resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on("timeout", () => req.destroy(new Error("Docker did not answer within 30s")));
    req.on("error", reject);
    req.end(payload);
  });
}

function engine(docker: DockerConfig | undefined): Endpoint {
  if (docker?.socketPath) return { socketPath: docker.socketPath };
  if (docker?.host) return { host: docker.host, port: docker.port ?? 2375 };
  const fromEnv = process.env.DOCKER_HOST;
  if (fromEnv?.startsWith("unix://")) return { socketPath: fromEnv.slice("unix://".length) };
  if (fromEnv?.startsWith("tcp://")) {
    const url = new URL(fromEnv.replace(/^tcp:/, "http:"));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return { socketPath: "/var/run/docker.sock" };
}
