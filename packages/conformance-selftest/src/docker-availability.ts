import { engineUnavailableReason } from "@cadre/agent-runtime-conformance";
import Docker from "dockerode";

/** The image of the Docker fixture's sessions, the one scripts/services.sh loads. */
export const testImage = process.env.CADRE_TEST_IMAGE ?? "cadre-test/busybox:1";

/** Why the Docker fixture cannot run here, or undefined (under CI=true the suite then fails). */
export async function dockerUnavailableReason(runtime: "runc"): Promise<string | undefined> {
  const docker = new Docker();
  const down = await engineUnavailableReason("the Docker daemon", () => docker.ping());
  if (down) return down;
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  if (!info.Runtimes?.[runtime]) return `the Docker daemon has no runtime "${runtime}"`;
  return undefined;
}
