import { isSessionId, sessionLabels } from "@cadre/agent-runtime-contract";
import {
  type EndRecord,
  type EndRecordStore,
  endRecordLabels,
  isSessionOf,
  parseReapReason,
  parseRecordedEnd,
} from "@cadre/agent-runtime-provider-utils";
import type { DockerClient } from "./docker-client.js";
import type { LabelCodec } from "./labels.js";

/** The label that makes a volume an end record (its value: the end, as JSON). */
export const endRecordLabel = endRecordLabels.end;

/** The volume that holds session `id`'s end record. */
export function endRecordVolume(id: string): string {
  return `${id}-ended`;
}

/**
 * Ended sessions' records as empty volumes, `<id>-ended`, whose labels are the session's labels
 * (never env values) and its end: the daemon keeps them beside the sessions, every instance and
 * every later process reads them, and a volume costs no running process. A volume is this
 * provider's record only when its name and its labels agree on the session, as for containers.
 */
export class DockerEndRecords implements EndRecordStore {
  constructor(
    private readonly client: DockerClient,
    private readonly codec: LabelCodec,
  ) {}

  async put(record: EndRecord): Promise<void> {
    const labels: Record<string, string> = {
      ...record.labels,
      [endRecordLabels.end]: JSON.stringify(record.end),
      [endRecordLabels.keepUntil]: record.keepUntil,
    };
    if (record.reaped) labels[endRecordLabels.reaped] = record.reaped;
    await this.client.putVolume(endRecordVolume(record.id), this.codec.toDocker(labels));
  }

  async get(id: string): Promise<EndRecord | undefined> {
    if (!isSessionId(id)) return undefined;
    const labels = await this.client.volumeLabels(endRecordVolume(id));
    return labels ? this.recordOf(id, labels) : undefined;
  }

  async list(wanted: Record<string, string> = {}): Promise<EndRecord[]> {
    // The daemon narrows the listing; the labels are checked here too, because Podman 4 honours
    // only some of the filters it is given.
    const volumes = await this.client.listVolumes([
      `${this.codec.toDockerKey(sessionLabels.provider)}=${this.client.providerId}`,
    ]);
    const carries = (record: EndRecord) =>
      Object.entries(wanted).every(([key, value]) => record.labels[key] === value);
    return volumes.flatMap(({ name, labels }) => {
      const id = name.endsWith("-ended") ? name.slice(0, -"-ended".length) : "";
      const record = isSessionId(id) ? this.recordOf(id, labels) : undefined;
      return record && carries(record) ? [record] : [];
    });
  }

  async remove(id: string): Promise<void> {
    if (isSessionId(id)) await this.client.removeVolume(endRecordVolume(id));
  }

  private recordOf(id: string, dockerLabels: Record<string, string>): EndRecord | undefined {
    const all = this.codec.fromDocker(dockerLabels);
    if (!isSessionOf(all, id, this.client.providerId)) return undefined;
    const {
      [endRecordLabels.end]: endText,
      [endRecordLabels.keepUntil]: keepUntil,
      ...labels
    } = all;
    const reaped = parseReapReason(labels[endRecordLabels.reaped]);
    delete labels[endRecordLabels.reaped];
    const end = parseRecordedEnd(endText);
    if (!end || !keepUntil || !Number.isFinite(Date.parse(keepUntil))) return undefined;
    return { id, labels, end, keepUntil, ...(reaped ? { reaped } : {}) };
  }
}
