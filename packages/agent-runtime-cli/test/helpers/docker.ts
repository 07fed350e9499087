import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { dockerUnavailableReason as providerDockerUnavailableReason } from "@cadre/agent-runtime-provider-docker";

const run = promisify(execFile);

export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

/** Why Docker cannot run the tests' sessions here, or undefined: the provider's own check. */
export function dockerUnavailableReason(): Promise<string | undefined> {
  return providerDockerUnavailableReason({ image: testImage });
}

/** Ids of containers (any state) carrying this label, read from the engine directly. */
export async function containersWithLabel(key: string, value: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=${key}=${value}`]);
  return stdout.split("\n").filter(Boolean);
}
