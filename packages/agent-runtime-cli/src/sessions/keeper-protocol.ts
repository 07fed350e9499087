import type { IsolationConfig } from "@cadre/agent-runtime";
import type { IsolationPolicy } from "@cadre/agent-runtime-contract";

// What `sessions start` and its session keeper say to each other: one JSON line each way, over
// the keeper's stdin and stdout (never its argv, which `ps` shows: the policy's env may hold a
// token).

export interface KeeperRequest {
  config: IsolationConfig;
  policy: IsolationPolicy;
}

export type KeeperReply = { id: string } | { error: { code?: string; message: string } };

/** How often the keeper asks whether its session still exists. */
export const keeperPollMs = 2000;
