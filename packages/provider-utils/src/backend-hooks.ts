import { buildSessionLabels } from "./session-labels.js";

/**
 * An object planted in an engine that is named like a session but is not one of the provider's:
 * the conformance suite checks that no method touches it.
 */
export interface ForeignBackendObject {
  /** The name a careless provider would take for a session id. */
  id: string;
  /** What it is, for failure messages. */
  description: string;
  /** Whether it still exists untouched. */
  alive(): Promise<boolean>;
  remove(): Promise<void>;
}

/**
 * What the conformance suite reads and writes in a provider's engine directly, never through the
 * provider. Each provider package exports its own, next to the code that writes what they read.
 */
export interface BackendHooks {
  /** Ids of every backend object still carrying all of these labels. */
  findBackendLeftovers(labels: Record<string, string>): Promise<string[]>;
  /** Every label or record the engine keeps for the session, as text. */
  readBackendLabels(sessionId: string): Promise<string>;
  /** Objects named like sessions that are not this provider's. */
  plantForeignObjects(): Promise<ForeignBackendObject[]>;
  /** Ended sessions' records carrying all of these labels, each as text (where it keeps them). */
  findEndRecords?(labels: Record<string, string>): Promise<string[]>;
  /** Kills the session's first process from outside the provider with SIGKILL. */
  killFromOutside(sessionId: string): Promise<void>;
}

/**
 * Labels of a session of `providerId` that expired long ago and whose owner is on another host:
 * a look-alike that a careless reap() would take, for plantForeignObjects().
 */
export function expiredSessionLabels(
  sessionId: string,
  providerId: string,
): Record<string, string> {
  return buildSessionLabels({
    sessionId,
    providerId,
    policy: { ttlMs: 1 },
    createdAt: new Date("2001-01-01T00:00:00Z"),
    owner: "another-host/boot/pidns/1/1",
  });
}
