import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { dockerBackendHooks, dockerUnavailableReason } from "../src/backend-hooks.js";
import {
  createDockerProvider,
  type DockerProviderOptions,
  type DockerRuntime,
} from "../src/index.js";
import { testImage } from "./docker-test-env.js";

/** An engine the suite runs against other than the default daemon: its name and options. */
export interface EngineUnderTest {
  /** Shown in the suite's name, e.g. "podman rootless". */
  name: string;
  options: DockerProviderOptions;
  /** Why the engine is not there (checked before the daemon is asked), or undefined. */
  missing?: string | undefined;
}

/**
 * Registers the conformance suite for the Docker provider on one runtime, against the default
 * daemon (DOCKER_HOST, else the default socket) or `engine`.
 */
export async function runDockerConformance(
  runtime: DockerRuntime,
  engine?: EngineUnderTest,
): Promise<void> {
  const options: DockerProviderOptions = { ...engine?.options, runtime, image: testImage };
  // Read by the fixture module that the suite's SIGKILLed owner process imports.
  process.env.CADRE_DOCKER_TEST_RUNTIME = runtime;
  process.env.CADRE_DOCKER_TEST_OPTIONS = JSON.stringify(options);
  const hooks = dockerBackendHooks(options);
  runConformance({
    name: engine ? `docker (${engine.name}, ${runtime})` : `docker (${runtime})`,
    createProvider: () => createDockerProvider(options),
    image: testImage,
    findBackendLeftovers: hooks.findBackendLeftovers,
    readBackendLabels: hooks.readBackendLabels,
    plantForeignObjects: () => hooks.plantForeignObjects(),
    providerModule: fileURLToPath(
      new URL("./fixtures/docker-provider-module.mjs", import.meta.url),
    ),
    unavailableReason: engine?.missing ?? (await dockerUnavailableReason(options)),
  });
}
