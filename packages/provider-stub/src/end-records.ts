import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSessionId } from "@cadre/agent-runtime-contract";
import {
  type EndRecord,
  type EndRecordStore,
  isSessionOf,
} from "@cadre/agent-runtime-provider-utils";

/** Where ended sessions' records are kept: not a session id, so never taken for a session. */
export const endRecordsDir = ".ended";

/**
 * Ended sessions' records as files, `<stateDir>/.ended/<id>.json` (mode 0600): the session's
 * labels (never env values), its end, and until when it is kept. Written whole and renamed into
 * place, so a reader sees a record or none.
 */
export class StubEndRecords implements EndRecordStore {
  private readonly dir: string;

  constructor(
    stateDir: string,
    private readonly providerId: string,
  ) {
    this.dir = join(stateDir, endRecordsDir);
  }

  async put(record: EndRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(record.id);
    const temporary = `${target}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await rename(temporary, target);
  }

  async get(id: string): Promise<EndRecord | undefined> {
    if (!isSessionId(id)) return undefined;
    let text: string;
    try {
      text = await readFile(this.file(id), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const record = parseEndRecord(text);
    return record?.id === id && isSessionOf(record.labels, id, this.providerId)
      ? record
      : undefined;
  }

  async list(): Promise<EndRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const ids = names.filter((n) => n.endsWith(".json")).map((n) => n.slice(0, -".json".length));
    const records = await Promise.all(ids.map((id) => this.get(id).catch(() => undefined)));
    return records.filter((record) => record !== undefined);
  }

  async remove(id: string): Promise<void> {
    if (isSessionId(id)) await rm(this.file(id), { force: true });
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}

/** A record as written by put(); undefined for anything else. */
function parseEndRecord(text: string): EndRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<EndRecord>;
    const { id, labels, end, keepUntil } = value;
    if (typeof id !== "string" || typeof keepUntil !== "string") return undefined;
    if (typeof labels !== "object" || labels === null) return undefined;
    if (!Object.values(labels).every((v) => typeof v === "string")) return undefined;
    if (typeof end?.at !== "string" || typeof end.cause?.kind !== "string") return undefined;
    return value as EndRecord;
  } catch {
    return undefined;
  }
}
