import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { mkfifo } from "./mkfifo.js";
import { fifoDirError } from "./session-dir.js";

/**
 * Named pipes for one session directory, made in batches (Node has no mkfifo(2), so each batch is
 * one fork): by default the three of one link to the session's agent. Each pipe is handed out
 * once and never reused: a process of an earlier link may still hold it open.
 */
export class FifoReserve {
  private readonly spare: string[] = [];
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly batchSize = 3,
  ) {}

  async take(count: number): Promise<string[]> {
    while (this.spare.length < count) {
      this.refilling ??= this.refill().finally(() => {
        this.refilling = undefined;
      });
      await this.refilling;
    }
    return this.spare.splice(0, count);
  }

  private async refill(): Promise<void> {
    const prefix = randomBytes(6).toString("hex");
    const paths = Array.from({ length: this.batchSize }, (_, i) =>
      join(this.dir, `${prefix}-${i}`),
    );
    try {
      await mkfifo(paths);
    } catch (error) {
      throw fifoDirError(error, this.dir, "make the agent link's FIFOs in");
    }
    this.spare.push(...paths);
  }
}
