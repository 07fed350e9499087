import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const labelsFile = "labels.json";

/**
 * A session's directory of FIFOs, `<root>/<sessionId>/`. It holds a labels.json copy of the
 * session's labels, so that leftovers can be found by label like every other backend object.
 */
export class SessionDirectories {
  constructor(readonly root: string) {}

  path(sessionId: string): string {
    return join(this.root, sessionId);
  }

  async create(sessionId: string, labels: Record<string, string>): Promise<string> {
    const dir = this.path(sessionId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, labelsFile), JSON.stringify(labels), { mode: 0o600 });
    return dir;
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.path(sessionId), { recursive: true, force: true });
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
      let labels: Record<string, string> = {};
      try {
        labels = JSON.parse(await readFile(join(this.root, name, labelsFile), "utf8")) as Record<
          string,
          string
        >;
      } catch {
        continue;
      }
      if (Object.entries(wanted).every(([k, v]) => labels[k] === v)) out.push(name);
    }
    return out;
  }
}
