import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { OutputCollector } from "../src/index.js";

describe("OutputCollector", () => {
  it("keeps stdout and stderr apart and hands the kept bytes to the callbacks", () => {
    const seen: string[] = [];
    const collector = new OutputCollector(1024, {
      onStdout: (c) => seen.push(`out:${Buffer.from(c).toString()}`),
      onStderr: (c) => seen.push(`err:${Buffer.from(c).toString()}`),
    });
    collector.push("stdout", Buffer.from("a"));
    collector.push("stderr", Buffer.from("b"));
    collector.push("stdout", Buffer.from("c"));
    expect(collector.text("stdout")).toBe("ac");
    expect(collector.text("stderr")).toBe("b");
    expect(seen).toEqual(["out:a", "err:b", "out:c"]);
    expect(collector.truncated).toBe(false);
  });

  it("caps both streams together and drops the rest", () => {
    const streamed: number[] = [];
    const collector = new OutputCollector(10, { onStdout: (c) => streamed.push(c.byteLength) });
    collector.push("stderr", Buffer.alloc(4, 0x65));
    for (let i = 0; i < 1000; i++) collector.push("stdout", Buffer.alloc(3, 0x6f));
    expect(collector.text("stdout")).toBe("oooooo");
    expect(collector.text("stderr")).toBe("eeee");
    expect(collector.truncated).toBe(true);
    expect(streamed.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it("copies chunks, so a producer reusing its buffer cannot change kept output", () => {
    const collector = new OutputCollector(100);
    const buffer = Buffer.from("first");
    collector.push("stdout", buffer);
    buffer.write("XXXXX");
    expect(collector.text("stdout")).toBe("first");
  });

  it("decodes invalid UTF-8 to replacement characters instead of failing", () => {
    const collector = new OutputCollector(100);
    collector.push("stdout", Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    expect(collector.text("stdout")).toBe("a\uFFFD\uFFFDb");
  });

  it("survives a callback that throws, and reports it as a process warning", async () => {
    const collector = new OutputCollector(100, {
      onStdout: () => {
        throw new Error("caller bug");
      },
    });
    const warning = once(process, "warning");
    collector.push("stdout", Buffer.from("x"));
    expect(collector.text("stdout")).toBe("x");
    const [emitted] = (await warning) as [Error];
    expect(emitted.message).toMatch(/caller bug/);
  });
});
