import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { createDockerProvider } from "../src/index.js";
import {
  containersWithLabels,
  dockerUnavailableReason,
  plantForeignObjects,
  readBackendLabels,
  testImage,
} from "./docker-test-env.js";

// Read by the fixture module that the suite's SIGKILLed owner process imports.
process.env.CADRE_DOCKER_TEST_RUNTIME = "runc";

runConformance({
  name: "docker (runc)",
  createProvider: () => createDockerProvider({ runtime: "runc" }),
  image: testImage,
  findBackendLeftovers: containersWithLabels,
  readBackendLabels,
  plantForeignObjects,
  providerModule: fileURLToPath(new URL("./fixtures/docker-provider-module.mjs", import.meta.url)),
  unavailableReason: await dockerUnavailableReason("runc"),
});
