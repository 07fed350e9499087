import { CapabilityMismatchError } from "@cadre/agent-runtime-contract";
import type { SessionAgentAccess } from "./session-backend.js";

/** What the files and processes APIs get of the lifecycle: its checks and its backend's agent. */
export interface AgentFeatureHost {
  providerId: string;
  /** The id, checked as exec checks it (well-formed, not past its TTL); throws SESSION_NOT_FOUND. */
  sessionId(id: unknown): string;
  /** The backend's withAgent; absent for a backend without an agent. */
  withAgent:
    | (<T>(sessionId: string, use: (agent: SessionAgentAccess) => Promise<T>) => Promise<T>)
    | undefined;
}

/**
 * Runs `use` with the session's agent when both the provider and that session's agent have
 * `feature`; CAPABILITY_MISMATCH naming `features.<feature>` otherwise (an agent of a session
 * started by an older release may lack it).
 */
export function withAgentFeature<T>(
  host: AgentFeatureHost,
  feature: "files" | "processes",
  sessionId: string,
  use: (agent: SessionAgentAccess) => Promise<T>,
): Promise<T> {
  const { providerId, withAgent } = host;
  const refuse = (why: string) =>
    new CapabilityMismatchError({ [`features.${feature}`]: why }, { providerId });
  if (!withAgent) {
    return Promise.reject(
      refuse(`this provider has no ${feature} (capabilities().features.${feature} is false)`),
    );
  }
  return withAgent(sessionId, (agent) => {
    const has = feature === "files" ? agent.link.hasFiles : agent.link.hasProcesses;
    if (!has)
      throw refuse(`this session's agent predates ${feature}; start a new session for them`);
    return use(agent);
  });
}
