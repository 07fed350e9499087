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
}
