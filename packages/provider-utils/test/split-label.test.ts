import { sizeLimits } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import {
  buildSessionLabels,
  joinLabel,
  maxLabelBytes,
  sessionInfoFromLabels,
  splitLabel,
} from "../src/session-labels.js";

const bytesOf = (labels: Record<string, string>) =>
  Object.entries(labels).map(([k, v]) => Buffer.byteLength(k) + Buffer.byteLength(v));

describe("labels that fit every engine", () => {
  it("keeps a short value under its key alone", () => {
    expect(splitLabel("k", "v")).toEqual({ k: "v" });
    expect(joinLabel({ k: "v" }, "k")).toBe("v");
    expect(joinLabel({}, "k")).toBeUndefined();
  });

  it("splits a long value between code points and joins it back", () => {
    const value = `${"a".repeat(4000)}${"é€😀".repeat(3000)}`;
    const parts = splitLabel("cadre.agent-runtime/policy", value);
    expect(Object.keys(parts).length).toBeGreaterThan(3);
    for (const size of bytesOf(parts)) expect(size).toBeLessThanOrEqual(maxLabelBytes);
    for (const part of Object.values(parts)) expect(part).not.toMatch(/[\uD800-\uDBFF]$/);
    expect(joinLabel(parts, "cadre.agent-runtime/policy")).toBe(value);
  });

  it("gives a session at the contract's size limits labels of at most 4096 bytes each, and lists it back", () => {
    const env = Object.fromEntries(
      Array.from({ length: sizeLimits.env.maxVariables }, (_, i) => [
        `${"N".repeat(sizeLimits.env.maxNameLength - 5)}${String(i).padStart(5, "0")}`,
        "",
      ]),
    );
    const labels = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`${"k".repeat(127)}${i}`, "€".repeat(1024)]),
    );
    const policy = { env, labels, workdir: `/${"w".repeat(4000)}`, image: "i".repeat(512) };
    const built = buildSessionLabels({
      sessionId: "cadre-0123456789abcdef",
      providerId: "t",
      policy,
    });
    for (const size of bytesOf(built)) expect(size).toBeLessThanOrEqual(maxLabelBytes);
    const info = sessionInfoFromLabels(built, "running");
    expect(info?.envNames).toEqual(Object.keys(env).sort());
    expect(info?.labels).toEqual(labels);
    expect(info?.policy).toEqual({ labels, workdir: policy.workdir, image: policy.image });
  });
});
