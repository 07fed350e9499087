import { engineUnavailableReason } from "@cadre/agent-runtime-conformance";
import Docker from "dockerode";
import { dockerBackendHooks } from "../src/backend-hooks.js";
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

const hooks = dockerBackendHooks({ image: testImage });

/** Names of every container, running or not, that carries all of these labels. */
export const containersWithLabels = hooks.findBackendLeftovers;
/** The session's container labels as the daemon stores them, raw (the conformance hook). */
export const readBackendLabels = hooks.readBackendLabels;
/** Containers named like sessions that are not (the conformance hook); see dockerBackendHooks. */
export const plantForeignObjects = hooks.plantForeignObjects;
