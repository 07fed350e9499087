import { setTimeout as delay } from "node:timers/promises";
import { hasEntry, scanProcesses } from "./process-scan.js";

/**
 * Every process the stub starts carries two environment variables, inherited by its whole tree:
 * the session id and a per-exec token. A descendant that left the process group (setsid, double
 * fork) is still found by scanning /proc/<pid>/environ for them.
 */
export const sessionTag = "CADRE_STUB_SESSION";
export { execTagVariable as execTag } from "@cadre/agent-runtime-provider-utils";

/** Live processes whose environment holds `name=value` (zombies have an empty environ). */
export async function findTaggedProcesses(name: string, value: string): Promise<number[]> {
  const entry = `${name}=${value}`;
  let found: number[] = [];
  // A process in the middle of execve reads as an empty environ; look again when there is one.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await delay(1);
    const entries = await scanProcesses();
    found = entries
      .filter((e) => Buffer.isBuffer(e.environ) && hasEntry(e.environ, entry))
      .map((e) => e.pid);
    if (!entries.some((e) => e.environ === "mid-exec")) break;
  }
  return found;
}
