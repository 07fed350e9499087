import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls `check` until it returns true, for conditions that have no event to wait on (a TTL that
 * runs out in another process). Throws with `what` when the deadline passes.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  deadlineMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}
