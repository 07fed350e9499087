import { type CapabilityRow, PolicyValidationError } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  absolutePathOption,
  defineProvider,
  offersNoIsolation,
  parseProviderOptions,
} from "../src/index.js";

const row = (isolation: CapabilityRow["isolation"]) => ({ isolation }) as CapabilityRow;

function descriptor(id: string, rows: CapabilityRow[]) {
  return {
    id,
    packageName: `@example/${id}`,
    title: "an example",
    optionsSchema: z.strictObject({}),
    create: () => {
      throw new Error("not used");
    },
    capabilityRows: rows,
    backendHooks: () => {
      throw new Error("not used");
    },
  };
}

describe("defineProvider", () => {
  it("returns a well-formed descriptor unchanged", () => {
    const d = descriptor("my-engine", [row("vm")]);
    expect(defineProvider(d)).toBe(d);
  });

  it("refuses an id that cannot be a config key or an environment suffix", () => {
    for (const id of ["", "Docker", "my engine", "1st", "a".repeat(33), "x_y"]) {
      expect(() => defineProvider(descriptor(id, [row("vm")]))).toThrow(/provider id/);
    }
  });

  it("refuses a provider without capability rows", () => {
    expect(() => defineProvider(descriptor("empty", []))).toThrow(/capability row/);
  });
});

describe("offersNoIsolation", () => {
  it("is true only when every row says isolation none", () => {
    expect(offersNoIsolation(descriptor("a", [row("none")]))).toBe(true);
    expect(offersNoIsolation(descriptor("b", [row("none"), row("container")]))).toBe(false);
    expect(offersNoIsolation(descriptor("c", [row("vm")]))).toBe(false);
  });
});

describe("parseProviderOptions", () => {
  const schema = z.strictObject({ dir: absolutePathOption.optional() });

  it("returns the parsed options, and {} for none", () => {
    expect(parseProviderOptions("demo", schema, { dir: "/tmp/x" })).toEqual({ dir: "/tmp/x" });
    expect(parseProviderOptions("demo", schema, undefined)).toEqual({});
  });

  it("names every bad key in POLICY_INVALID", () => {
    const error = (() => {
      try {
        parseProviderOptions("demo", schema, { dir: "relative", extra: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    const invalid = error as PolicyValidationError;
    expect(invalid.providerId).toBe("demo");
    expect(invalid.message).toMatch(/demo provider options/);
    expect(invalid.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["dir"]));
  });
});
