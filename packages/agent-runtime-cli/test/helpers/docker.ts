import { execFile } from "node:child_process";
import { request } from "node:http";
import { promisify } from "node:util";

const run = promisify(execFile);

export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

function socketPath(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

/** Why Docker cannot be used here, or undefined when its API answers /_ping. */
export function dockerUnavailableReason(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socketPath(), path: "/_ping", timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `Docker answered /_ping with ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) =>
      resolve(`Docker is not reachable at ${socketPath()}: ${error.message}`),
    );
    req.end();
  });
}

/** Ids of containers (any state) carrying this label, read from the engine directly. */
export async function containersWithLabel(key: string, value: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=${key}=${value}`]);
  return stdout.split("\n").filter(Boolean);
}
