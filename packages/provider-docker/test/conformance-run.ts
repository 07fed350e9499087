import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { createDockerProvider, type DockerRuntime } from "../src/index.js";
import {
  containersWithLabels,
  dockerTestsUnavailable,
  findEndRecords,
  killFromOutside,
  plantForeignObjects,
  readBackendLabels,
  testImage,
} from "./docker-test-env.js";

/** Registers the conformance suite for the Docker provider on one runtime. */
export async function runDockerConformance(runtime: DockerRuntime): Promise<void> {
  // Read by the fixture module that the suite's SIGKILLed owner process imports.
  process.env.CADRE_DOCKER_TEST_RUNTIME = runtime;
  runConformance({
    name: `docker (${runtime})`,
    createProvider: () => createDockerProvider({ runtime }),
    image: testImage,
    findBackendLeftovers: containersWithLabels,
    readBackendLabels,
    plantForeignObjects: () => plantForeignObjects(),
    findEndRecords,
    killFromOutside,
    providerModule: fileURLToPath(
      new URL("./fixtures/docker-provider-module.mjs", import.meta.url),
    ),
    unavailableReason: await dockerTestsUnavailable(runtime),
  });
}
