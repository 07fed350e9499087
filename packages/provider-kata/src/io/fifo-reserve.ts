import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { mkfifo } from "./mkfifo.js";
import { fifoDirError } from "./session-dir.js";

/**
 * Named pipes made ahead of time in one directory (`<fifo root>/.spare`), for every session of a
 * backend. Node has no mkfifo(2), and the fork of mkfifo costs more than the rest of a session's
 * link: one fork makes a batch, and a batch is made in the background whenever fewer than half
 * are left, so that a start rarely waits for one.
 */
export class SpareFifos {
  private readonly spare: string[] = [];
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly batchSize = 24,
  ) {}

  async take(count: number): Promise<string[]> {
    while (this.spare.length < count) await this.refill();
    const taken = this.spare.splice(0, count);
    if (this.spare.length < this.batchSize / 2) this.refill().catch(() => {});
    return taken;
  }

  /** Removes the pipes this instance made and did not hand out (a crash leaves one batch). */
  async close(): Promise<void> {
    await this.refilling?.catch(() => {});
    await Promise.all(this.spare.splice(0).map((path) => rm(path, { force: true })));
  }

  private refill(): Promise<void> {
    this.refilling ??= this.makeBatch().finally(() => {
      this.refilling = undefined;
    });
    return this.refilling;
  }

  private async makeBatch(): Promise<void> {
    const prefix = randomBytes(6).toString("hex");
    const paths = Array.from({ length: this.batchSize }, (_, i) =>
      join(this.dir, `${prefix}-${i}`),
    );
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await mkfifo(paths);
    } catch (error) {
      throw fifoDirError(error, this.dir, "make the agent links' FIFOs in");
    }
    this.spare.push(...paths);
  }
}

/**
 * Named pipes for one session directory, taken from the backend's spare ones and moved there
 * (rename keeps a FIFO a FIFO): by default the three of one link to the session's agent. Each
 * pipe is handed out once and never reused: a process of an earlier link may still hold it open.
 */
export class FifoReserve {
  constructor(
    private readonly dir: string,
    private readonly spare: SpareFifos,
  ) {}

  async take(count: number): Promise<string[]> {
    const spare = await this.spare.take(count);
    const paths = spare.map((path) => join(this.dir, basename(path)));
    try {
      await Promise.all(spare.map((path, i) => rename(path, paths[i] as string)));
    } catch (error) {
      throw fifoDirError(error, this.dir, "move the agent link's FIFOs into");
    }
    return paths;
  }
}
