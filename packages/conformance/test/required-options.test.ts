import { describe, expect, it } from "vitest";
import type { ConformanceOptions } from "../src/options.js";
import { runConformance } from "../src/run-conformance.js";

describe("runConformance's required options", () => {
  const base = { name: "example", createProvider: () => Promise.reject(new Error("unused")) };

  it("refuses a call without the backend hooks and providerModule, naming each", () => {
    expect(() => runConformance(base as unknown as ConformanceOptions)).toThrow(
      /needs findBackendLeftovers, readBackendLabels, plantForeignObjects, killFromOutside and providerModule/,
    );
  });

  it("refuses an empty providerModule", () => {
    const options = {
      ...base,
      findBackendLeftovers: async () => [],
      readBackendLabels: async () => "",
      plantForeignObjects: async () => [],
      killFromOutside: async () => {},
      providerModule: "",
    };
    expect(() => runConformance(options)).toThrow(/needs providerModule:/);
  });
});
