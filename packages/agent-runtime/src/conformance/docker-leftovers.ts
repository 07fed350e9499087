import { request } from "node:http";
import type { DockerConfig } from "../config/schema.js";

/**
 * Ids of the Docker containers (any state) that carry every one of `labels`, asked of the
 * Engine API directly rather than through the provider, for the suite's leak checks.
 */
export function dockerContainersWithLabels(
  docker: DockerConfig | undefined,
  labels: Record<string, string>,
): Promise<string[]> {
  const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
  const path = `/containers/json?all=1&filters=${encodeURIComponent(filters)}`;
  return new Promise((resolve, reject) => {
    const req = request({ ...endpoint(docker), path, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        if (res.statusCode !== 200) {
          reject(new Error(`Docker answered ${res.statusCode} to ${path}: ${body}`));
          return;
        }
        resolve((JSON.parse(body) as Array<{ Id: string }>).map((c) => c.Id));
      });
    });
    req.on("timeout", () => req.destroy(new Error("Docker did not answer within 30s")));
    req.on("error", reject);
    req.end();
  });
}

function endpoint(
  docker: DockerConfig | undefined,
): { socketPath: string } | { host: string; port: number } {
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
