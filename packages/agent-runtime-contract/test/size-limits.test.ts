import { describe, expect, it } from "vitest";
import {
  type CapabilityReport,
  checkPolicy,
  PolicyValidationError,
  parseExecRequest,
  policyFields,
  sizeLimits,
  utf8Bytes,
} from "../src/index.js";

const everything = {
  providerId: "test",
  isolation: "container",
  policy: Object.fromEntries(policyFields.map((f) => [f, { enforced: true, mechanism: "test" }])),
  features: {
    streaming: true,
    stdin: true,
    files: false,
    processes: false,
    usage: false,
    ttl: true,
    persistentSessions: true,
  },
  defaults: { network: "none" },
} as CapabilityReport;

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (error) {
    if (PolicyValidationError.isInstance(error)) return error.issues;
    throw error;
  }
  return [];
}

/** `count` variables whose NAME=VALUE entries (with their NUL) take `entryBytes` each. */
function envOf(count: number, entryBytes: number): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => {
      const name = `V${String(i).padStart(5, "0")}`;
      return [name, "v".repeat(entryBytes - name.length - 2)];
    }),
  );
}

describe("the contract's size limits", () => {
  const { env, labels, argv, maxStringBytes } = {
    ...sizeLimits,
    argv: sizeLimits.argv.maxTotalBytes,
  };

  it("accepts env exactly at its limits and refuses one byte or one variable more", () => {
    const perEntry = Math.floor(env.maxTotalBytes / env.maxVariables);
    const full = envOf(env.maxVariables, perEntry);
    expect(issuesOf(() => checkPolicy({ env: full }, everything))).toEqual([]);
    const tooMany = { ...full, EXTRA: "" };
    expect(issuesOf(() => checkPolicy({ env: tooMany }, everything))).not.toEqual([]);
    const oneByteOver = envOf(env.maxTotalBytes / perEntry, perEntry);
    oneByteOver.V00000 += "v";
    expect(issuesOf(() => checkPolicy({ env: oneByteOver }, everything))[0]?.message).toMatch(
      /over the contract's 512 KiB/,
    );
  });

  it("measures an env entry in UTF-8 bytes, naming the variable", () => {
    const atLimit = "é".repeat((maxStringBytes - "BIG=".length) / 2);
    expect(utf8Bytes(`BIG=${atLimit}`)).toBeLessThanOrEqual(maxStringBytes);
    expect(issuesOf(() => parseExecRequest(["true"], { env: { BIG: atLimit } }))).toEqual([]);
    const over = `${atLimit}é`;
    const issues = issuesOf(() => parseExecRequest(["true"], { env: { BIG: over } }));
    expect(issues.map((i) => i.path)).toEqual(["options.env.BIG"]);
  });

  it("refuses an env name longer than the limit", () => {
    const name = "N".repeat(env.maxNameLength + 1);
    expect(issuesOf(() => checkPolicy({ env: { [name]: "" } }, everything))).not.toEqual([]);
    const fits = "N".repeat(env.maxNameLength);
    expect(issuesOf(() => checkPolicy({ env: { [fits]: "" } }, everything))).toEqual([]);
  });

  it("accepts labels at their limits and refuses more", () => {
    const valueLength = Math.floor(labels.maxTotalBytes / labels.maxLabels) - 3;
    const full = Object.fromEntries(
      Array.from({ length: labels.maxLabels }, (_, i) => [
        `k${String(i).padStart(2, "0")}`,
        "x".repeat(valueLength),
      ]),
    );
    expect(issuesOf(() => checkPolicy({ labels: full }, everything))).toEqual([]);
    expect(issuesOf(() => checkPolicy({ labels: { ...full, k99: "" } }, everything))).not.toEqual(
      [],
    );
    const heavier = { ...full, k00: `${full.k00}xxxx` };
    expect(issuesOf(() => checkPolicy({ labels: heavier }, everything))[0]?.message).toMatch(
      /over the contract's 16 KiB/,
    );
  });

  it("limits each argument and all of them together, naming the argument", () => {
    const longest = "a".repeat(maxStringBytes);
    expect(issuesOf(() => parseExecRequest(["echo", longest], {}))).toEqual([]);
    expect(
      issuesOf(() => parseExecRequest(["echo", `${longest}a`], {})).map((i) => i.path),
    ).toEqual(["argv[1]"]);
    const parts = Array.from({ length: Math.ceil(argv / 1000) }, () => "a".repeat(999));
    expect(issuesOf(() => parseExecRequest(["echo", ...parts], {}))[0]?.message).toMatch(
      /over the contract's 512 KiB/,
    );
  });
});

describe("utf8Bytes", () => {
  it("is the length TextEncoder gives, for every kind of code unit", () => {
    const samples = ["", "a", "é", "€", "😀", "a\uD800b", "\uDC00", "x\uD83D", "mixé€😀\uD800"];
    for (const s of samples)
      expect(utf8Bytes(s), JSON.stringify(s)).toBe(new TextEncoder().encode(s).byteLength);
  });
});
