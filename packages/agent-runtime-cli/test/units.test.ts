import { describe, expect, it } from "vitest";
import { parseDuration, parsePositiveNumber, parseSize } from "../src/cli/units.js";
import { UsageError } from "../src/cli/usage-error.js";

describe("command-line units", () => {
  it("reads sizes with binary units", () => {
    expect(parseSize("512m", "--memory", "run")).toBe(512 * 1024 * 1024);
    expect(parseSize("1g", "--memory", "run")).toBe(1024 ** 3);
    expect(parseSize("64MiB", "--memory", "run")).toBe(64 * 1024 ** 2);
    expect(parseSize("1.5k", "--memory", "run")).toBe(1536);
    expect(parseSize("4096", "--memory", "run")).toBe(4096);
  });

  it("rejects what is not a size", () => {
    for (const bad of ["", "m", "-1m", "12x", "0", "1 2m"]) {
      expect(() => parseSize(bad, "--memory", "run")).toThrow(UsageError);
    }
  });

  it("reads durations in milliseconds", () => {
    expect(parseDuration("30s", "--timeout", "run")).toBe(30_000);
    expect(parseDuration("500ms", "--timeout", "run")).toBe(500);
    expect(parseDuration("2m", "--timeout", "run")).toBe(120_000);
    expect(parseDuration("1h", "--timeout", "run")).toBe(3_600_000);
    expect(parseDuration("45", "--timeout", "run")).toBe(45_000);
    for (const bad of ["", "s", "0s", "-1s", "1d", "99999999h"]) {
      expect(() => parseDuration(bad, "--timeout", "run")).toThrow(UsageError);
    }
  });

  it("reads positive numbers and integers", () => {
    expect(parsePositiveNumber("0.5", "--cpu", "run", false)).toBe(0.5);
    expect(parsePositiveNumber("64", "--pids", "run", true)).toBe(64);
    expect(() => parsePositiveNumber("1.5", "--pids", "run", true)).toThrow(/positive integer/);
    expect(() => parsePositiveNumber("0", "--cpu", "run", false)).toThrow(UsageError);
    expect(() => parsePositiveNumber("", "--cpu", "run", false)).toThrow(UsageError);
  });
});
