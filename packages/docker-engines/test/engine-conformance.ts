import { fileURLToPath } from "node:url";
import { runConformance } from "@cadre/agent-runtime-conformance";
import {
  createDockerProvider,
  type DockerProviderOptions,
  dockerBackendHooks,
  dockerUnavailableReason,
} from "@cadre/agent-runtime-provider-docker";

/** The image every session uses (scripts/services.sh loads it into every engine). */
export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

/** An engine the Docker provider runs against: its name, the options that reach it. */
export interface EngineUnderTest {
  /** Shown in the suite's name, e.g. "podman rootless". */
  name: string;
  options: DockerProviderOptions;
  /** Why the engine is not there (checked before the daemon is asked), or undefined. */
  missing?: string | undefined;
  /** Multiplies the suite's time limits where every request costs more (SSH). */
  timeScale?: number;
  /** Stops the daemon and starts it again (one the test started, which nothing else uses). */
  restart?: () => Promise<void>;
}

/** Registers the conformance suite for the Docker provider on `engine`. */
export async function runEngineConformance(engine: EngineUnderTest): Promise<void> {
  const options: DockerProviderOptions = { ...engine.options, image: testImage };
  // Read by the fixture module that the suite's SIGKILLed owner process imports.
  process.env.CADRE_DOCKER_ENGINE_OPTIONS = JSON.stringify(options);
  const hooks = dockerBackendHooks(options);
  runConformance({
    name: `docker (${engine.name}, ${options.runtime ?? "runc"})`,
    createProvider: () => createDockerProvider(options),
    image: testImage,
    findBackendLeftovers: hooks.findBackendLeftovers,
    readBackendLabels: hooks.readBackendLabels,
    plantForeignObjects: () => hooks.plantForeignObjects(),
    findEndRecords: (labels) => hooks.findEndRecords!(labels),
    killFromOutside: (id) => hooks.killFromOutside(id),
    providerModule: fileURLToPath(
      new URL("./fixtures/docker-provider-module.mjs", import.meta.url),
    ),
    unavailableReason: engine.missing ?? (await dockerUnavailableReason(options)),
    ...(engine.timeScale ? { timeScale: engine.timeScale } : {}),
    ...(engine.restart
      ? { restartEngine: { restart: engine.restart, sessionsSurvive: false } }
      : {}),
  });
}
