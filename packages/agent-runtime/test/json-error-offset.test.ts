import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonErrorOffset } from "../src/config/json-error-offset.js";

describe("jsonErrorOffset", () => {
  it("finds nothing wrong in valid JSON (fuzzed against JSON.stringify)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, indent) => {
        expect(jsonErrorOffset(JSON.stringify(value, null, indent))).toBeUndefined();
      }),
    );
  });

  it("agrees with JSON.parse on whether random text is JSON (fuzzed)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'{}[]:,"0-1e.tnul \\') }), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(text) === undefined).toBe(valid);
      }),
    );
  });

  it("points at the offending character", () => {
    expect(jsonErrorOffset('{"a": docker}')).toBe(6);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset("[1 2]")).toBe(3);
    expect(jsonErrorOffset('{"a": 1')).toBe(7);
    expect(jsonErrorOffset("")).toBe(0);
  });
});
