import { isSessionId, sessionLabels } from "@cadre/agent-runtime-contract";
import type { ContainerFacts, DockerClient } from "./docker-client.js";
import type { LabelCodec } from "./labels.js";

/** Verified ids kept per instance; the oldest is dropped past this (it is looked up again). */
const maxRemembered = 4096;

/**
 * The one way every method finds a session's container. A container is the session `id` only
 * when it is named `id` and carries this instance's labels (under its label prefix): the session
 * id label with exactly `id` and the provider label with this provider's id. Anything else on the
 * daemon (a `project-db` container, another deployment's session, a container whose name and
 * label disagree) is not a session.
 *
 * exec's fast path asks `containerId`, which answers from memory for a session verified before
 * (started here, or looked up once); the container id, not the name, is what the exec targets, so
 * a container put in place of the session under its name is never reached. The answer is
 * forgotten on destroy, and when the daemon says the container is gone.
 */
export class SessionLookup {
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly client: DockerClient,
    private readonly codec: LabelCodec,
  ) {}

  /**
   * Whether `id` can name a session at all. An all-hex string could also match another
   * container's id prefix, so only ids with a non-hex character (like newSessionId()'s
   * "cadre-...") are looked up.
   */
  static canBeSession(id: unknown): id is string {
    return isSessionId(id) && !/^[0-9a-f]+$/.test(id);
  }

  /** Whether a container (its name and labels) is the session `sessionId` of this instance. */
  isSession(
    names: readonly string[],
    labels: Record<string, string> | undefined,
    sessionId: string,
  ): boolean {
    return (
      names.includes(`/${sessionId}`) &&
      labels?.[this.codec.toDockerKey(sessionLabels.sessionId)] === sessionId &&
      labels?.[this.codec.toDockerKey(sessionLabels.provider)] === this.client.providerId
    );
  }

  /** The session's container as the daemon shows it now, or undefined when there is none. */
  async find(sessionId: string): Promise<ContainerFacts | undefined> {
    if (!SessionLookup.canBeSession(sessionId)) return undefined;
    // By name: the answer's full id is what every later call about the session targets.
    const found = await this.client.inspectContainer({ id: sessionId, sessionId });
    if (!found || !this.isSession([found.name], found.labels, sessionId)) {
      this.forget(sessionId);
      return undefined;
    }
    this.remember(sessionId, found.id);
    return found;
  }

  /** The verified container id of the session, from memory when it was verified before. */
  async containerId(sessionId: string): Promise<string | undefined> {
    if (!SessionLookup.canBeSession(sessionId)) return undefined;
    return this.verified.get(sessionId) ?? (await this.find(sessionId))?.id;
  }

  /** Records a container this instance created for `sessionId`. */
  remember(sessionId: string, containerId: string): void {
    this.verified.delete(sessionId);
    if (this.verified.size >= maxRemembered) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(sessionId, containerId);
  }

  forget(sessionId: string): void {
    this.verified.delete(sessionId);
  }
}
