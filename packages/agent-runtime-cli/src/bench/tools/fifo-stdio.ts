import { execFile } from "node:child_process";
import { constants, open } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { FifoStdio, PremadeFifos as Fifos } from "@cadre/agent-runtime-provider-utils";

const run = promisify(execFile);
const openFd = promisify(open);

/**
 * Named pipes for a bare containerd client that captures output, made before the timed part in
 * batches (a Go client such as ctr calls mkfifo(2) for a few microseconds; Node has to fork for
 * it), so the baseline pays only what every capturing exec must: open, read to the end, close.
 */
export class PremadeFifos implements Fifos {
  private readonly spare: string[] = [];
  private made = 0;

  private constructor(private readonly dir: string) {}

  static async create(): Promise<PremadeFifos> {
    return new PremadeFifos(await mkdtemp(join(tmpdir(), "cadre-bench-fifo-")));
  }

  /** Makes `count` more pipes; call it outside the timed part. */
  async prepare(count: number): Promise<void> {
    const paths = Array.from({ length: count }, () => join(this.dir, String(++this.made)));
    await run("mkfifo", ["-m", "600", "--", ...paths]);
    this.spare.push(...paths);
  }

  /** Makes as many pipes as it takes to have `count` unused ones; call it outside the timed part. */
  async reserve(count: number): Promise<void> {
    if (count > this.spare.length) await this.prepare(count - this.spare.length);
  }

  /** Opens the read ends of two fresh pipes (making more, in the timed part, only if none are left). */
  async open(): Promise<FifoStdio> {
    if (this.spare.length < 2) await this.prepare(64);
    const [stdout, stderr] = this.spare.splice(0, 2) as [string, string];
    const readers = await Promise.all(
      [stdout, stderr].map(async (path) => {
        const fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK);
        return new Socket({ fd, readable: true, writable: false });
      }),
    );
    const ended = Promise.all(
      readers.map(
        (reader) =>
          new Promise<void>((resolve) => {
            reader.resume();
            reader.on("end", resolve);
            reader.on("close", resolve);
          }),
      ),
    ).then(() => undefined);
    return {
      paths: { stdin: "", stdout, stderr },
      ended,
      close: () => {
        for (const reader of readers) reader.destroy();
      },
    };
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
