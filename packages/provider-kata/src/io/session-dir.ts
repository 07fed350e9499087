import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { providerId } from "../capabilities.js";
import { isOwnSession } from "../containerd/session-objects.js";

const labelsFile = "labels.json";

/** A local file system error on the FIFO directories, as a typed error that says what to fix. */
export function fifoDirError(
  error: unknown,
  path: string,
  action: string,
): ProviderUnavailableError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new ProviderUnavailableError(
    `Cannot ${action} ${path}${code ? ` (${code})` : ""}: ${(error as Error)?.message ?? String(error)}. The Kata provider keeps the FIFOs of its links to each session's agent there; make the fifoDir option a writable directory on a local file system (default /run/cadre/kata).`,
    { providerId, cause: error },
  );
}

/**
 * A session's directory of FIFOs (its links to the agent), `<root>/<sessionId>/`. It holds a
 * labels.json copy of the session's labels, so that leftovers can be found by label like every
 * other backend object.
 */
export class SessionDirectories {
  constructor(readonly root: string) {}

  path(sessionId: string): string {
    return join(this.root, sessionId);
  }

  /** Creates (or refreshes) the directory and its labels; PROVIDER_UNAVAILABLE when it cannot. */
  async create(sessionId: string, labels: Record<string, string>): Promise<string> {
    const dir = this.path(sessionId);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(join(dir, labelsFile), JSON.stringify(labels), { mode: 0o600 });
    } catch (error) {
      throw fifoDirError(error, dir, "create the session's FIFO directory");
    }
    return dir;
  }

  /**
   * Removes the directory when it is this session's: its labels.json says so, or the caller
   * knows it (`known`, the session's container is this provider's). Another deployment sharing
   * the root keeps its directories.
   */
  async remove(sessionId: string, known = false): Promise<void> {
    if (!known && !isOwnSession(await this.labels(sessionId), sessionId)) return;
    await rm(this.path(sessionId), { recursive: true, force: true });
  }

  private async labels(sessionId: string): Promise<Record<string, string> | undefined> {
    try {
      const parsed: unknown = JSON.parse(
        await readFile(join(this.path(sessionId), labelsFile), "utf8"),
      );
      return typeof parsed === "object" && parsed !== null
        ? (parsed as Record<string, string>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Session ids of the directories under root whose labels include all of `wanted`. */
  async find(wanted: Record<string, string>): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names) {
      const labels = await this.labels(name);
      if (labels && Object.entries(wanted).every(([k, v]) => labels[k] === v)) out.push(name);
    }
    return out;
  }
}
