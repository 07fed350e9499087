import Docker from "dockerode";
import { dockerBackendHooks, dockerUnavailableReason } from "../src/backend-hooks.js";
import { dockerConnection } from "../src/connection.js";
import type { DockerRuntime } from "../src/options.js";

/** The image every test session uses. */
export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

/** Direct access to the daemon, to read the backend without the provider. */
export const docker = new Docker(dockerConnection());

/**
 * Why the Docker tests of `runtime` cannot run here (daemon down, runtime or image missing), or
 * undefined. Outside CI the suites skip with this reason; under CI=true they fail.
 */
export function dockerTestsUnavailable(runtime: DockerRuntime): Promise<string | undefined> {
  return dockerUnavailableReason({ runtime, image: testImage });
}

const hooks = dockerBackendHooks({ image: testImage });

/** Names of every container, running or not, that carries all of these labels. */
export const containersWithLabels = hooks.findBackendLeftovers;
/** The session's container labels as the daemon stores them, raw (the conformance hook). */
export const readBackendLabels = hooks.readBackendLabels;
/** Containers named like sessions that are not (the conformance hook); see dockerBackendHooks. */
export const plantForeignObjects = hooks.plantForeignObjects;
