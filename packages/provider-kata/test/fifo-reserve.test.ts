import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FifoReserve, SpareFifos } from "../src/io/fifo-reserve.js";

describe("FifoReserve", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("hands out named pipes moved into the session's directory, each only once", async () => {
    dir = await mkdtemp(join(tmpdir(), "fifo-reserve-"));
    const spare = new SpareFifos(join(dir, ".spare"), 4);
    const session = join(dir, "session");
    await mkdir(session);
    const reserve = new FifoReserve(session, spare);
    const taken = await Promise.all([reserve.take(3), reserve.take(2), reserve.take(3)]);
    const all = taken.flat();
    expect(new Set(all).size).toBe(8);
    for (const path of all) {
      expect(path.startsWith(`${session}/`)).toBe(true);
      expect((await stat(path)).isFIFO()).toBe(true);
    }
    expect((await readdir(session)).length).toBe(8);
  });

  it("makes the next batch ahead of time, when half of one is left", async () => {
    dir = await mkdtemp(join(tmpdir(), "fifo-reserve-"));
    const spare = new SpareFifos(join(dir, ".spare"), 4);
    const session = join(dir, "session");
    await mkdir(session);
    await new FifoReserve(session, spare).take(3);
    // One is left of the first batch: the second is being made meanwhile.
    for (let i = 0; i < 200 && (await readdir(join(dir, ".spare"))).length < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await readdir(join(dir, ".spare"))).length).toBe(5);
    // What it did not hand out goes with it.
    await spare.close();
    expect(await readdir(join(dir, ".spare"))).toEqual([]);
  });

  it("reports a directory it cannot make pipes in", async () => {
    dir = await mkdtemp(join(tmpdir(), "fifo-reserve-"));
    const notADirectory = join(dir, "file");
    await writeFile(notADirectory, "");
    const spare = new SpareFifos(join(notADirectory, ".spare"), 4);
    await expect(new FifoReserve(dir, spare).take(2)).rejects.toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      message: expect.stringMatching(/file\/\.spare.*fifoDir option/s),
    });
  });
});
