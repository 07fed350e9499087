import { treeKillArgv } from "@cadre/agent-runtime-provider-utils";
import { type HelperTarget, runHelper } from "./run-helper.js";

const SIGKILL = 9;

/** How an exec's processes were killed, and whether that is known to have reached them all. */
export interface TreeKillOutcome {
  /** The killer found no process of the exec left, or the whole session has ended. */
  verified: boolean;
  method: string;
  /** Every process of the session was killed: nothing of the exec can be left. */
  sessionEnded: boolean;
}

export const killerMethod =
  "in-sandbox killer (processes carrying the exec's tag, their descendants, and orphans of PID 1 started since the exec)";
export const sessionKillMethod =
  "every process of the session (containerd Kill with all; the session ends)";

/** Time limits, in ms after the kill began. */
export interface KillBudget {
  /** Until when the in-sandbox killer may be started again and run. */
  killerMs: number;
  /** Until when the fallback waits for the session's task to end. */
  fallbackMs: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Kills an exec's whole process tree from inside the sandbox (the only place that sees it under
 * a VM runtime): its own process first, then the tree killer, started again while it cannot
 * start (a fork bomb holds every pid) or cannot make sure, within `budget.killerMs`. When it never
 * makes sure, every process of the session is killed, which ends the session: a tree the killer
 * reports alive is never left running. Resolves within `budget.fallbackMs` plus one RPC.
 */
export async function killExecTree(
  target: HelperTarget,
  execId: string,
  tag: string,
  startedAtMs: number,
  budget: KillBudget,
): Promise<TreeKillOutcome> {
  const began = performance.now();
  const left = (until: number) => until - (performance.now() - began);
  await target.client.kill(target.containerId, SIGKILL, { execId }).catch(() => {});
  for (let attempt = 0; left(budget.killerMs) > 0; attempt++) {
    try {
      // PID 1 is the session's own loop: a sleep of it younger than the exec counts as an orphan
      // and is killed, which costs nothing, since the loop starts another.
      const status = await runHelper(
        target,
        treeKillArgv(tag, { orphansSince: startedAtMs }),
        left(budget.killerMs),
      );
      if (status === 0) return { verified: true, method: killerMethod, sessionEnded: false };
    } catch {
      // not started: no pid free, or the task is gone
    }
    await delay(Math.min(20 * (attempt + 1), 200, left(budget.killerMs)));
  }
  return killSession(target, left(budget.fallbackMs));
}

/** Kills every process of the session's task and waits up to `waitMs` for the task to end. */
async function killSession(target: HelperTarget, waitMs: number): Promise<TreeKillOutcome> {
  const { client, containerId } = target;
  await client.kill(containerId, SIGKILL, { all: true }).catch(() => {});
  const verified = await client.wait(containerId, "", Math.max(1, waitMs)).then(
    () => true,
    () => false,
  );
  return { verified, method: sessionKillMethod, sessionEnded: verified };
}
