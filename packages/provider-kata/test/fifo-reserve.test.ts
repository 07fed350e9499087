import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FifoReserve } from "../src/io/fifo-reserve.js";

describe("FifoReserve", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("hands out named pipes, each only once, made in batches", async () => {
    dir = await mkdtemp(join(tmpdir(), "fifo-reserve-"));
    const reserve = new FifoReserve(dir, 4);
    const taken = await Promise.all([reserve.take(3), reserve.take(2), reserve.take(3)]);
    const all = taken.flat();
    expect(new Set(all).size).toBe(8);
    for (const path of all) expect((await stat(path)).isFIFO()).toBe(true);
    // Eight pipes from batches of four: exactly two batches, nothing made twice.
    expect((await readdir(dir)).length).toBe(8);
  });

  it("reports a directory it cannot write to", async () => {
    const reserve = new FifoReserve(join(tmpdir(), "no-such-dir-for-fifo-reserve", "x"), 4);
    await expect(reserve.take(2)).rejects.toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      message: expect.stringMatching(/no-such-dir-for-fifo-reserve.*fifoDir option/s),
    });
  });
});
