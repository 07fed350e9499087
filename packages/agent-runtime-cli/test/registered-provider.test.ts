import { registerProvider } from "@cadre/agent-runtime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { doctorCommand } from "../src/cli/doctor-command.js";
import { mainHelp } from "../src/cli/main.js";
import { configFromFlags } from "../src/cli/provider-choice.js";
import { renderRegisteredCapabilityMatrix } from "../src/matrix/render-matrix.js";
import { inMemoryProvider } from "./helpers/in-memory-provider.js";
import { captureStdout } from "./helpers/stdout.js";

// A provider that lives in this file (sessions are records in memory, nothing runs), known to
// the command line and the matrix through registerProvider() alone.
const id = "in-memory";
registerProvider(inMemoryProvider(id));

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a provider registered at run time", () => {
  it("is checked by doctor, after the built-in ones", async () => {
    const stdout = captureStdout();
    expect(await doctorCommand(["--json"])).toBe(0);
    const report = JSON.parse(stdout.text()) as {
      providers: Array<{ providerId: string; ready: boolean }>;
    };
    expect(report.providers.map((p) => p.providerId)).toEqual(["stub", "docker", "kata", id]);
    expect(report.providers.at(-1)?.ready).toBe(true);
  });

  it("is chosen by --provider, whose naming acknowledges that it offers no isolation", async () => {
    const config = await configFromFlags({ provider: id }, "doctor");
    expect(config).toEqual({ provider: id, [id]: { acknowledgeNoIsolation: true } });
    const stdout = captureStdout();
    expect(await doctorCommand(["--provider", id, "--json"])).toBe(0);
    expect(stdout.text()).toContain('"id": "in-memory.memory"');
  });

  it("has its column in the capability matrix", async () => {
    const matrix = await renderRegisteredCapabilityMatrix();
    expect(matrix.split("\n").find((line) => line.startsWith("| field |"))).toMatch(
      /\| stub \| .* \| in-memory \|$/,
    );
  });

  it("is named in the help texts, which list the registered providers", async () => {
    expect(mainHelp()).toContain(`(stub, docker, kata, ${id})`);
    const stdout = captureStdout();
    expect(await doctorCommand(["--help"])).toBe(0);
    expect(stdout.text()).toContain(`check only this provider (stub, docker, kata, ${id})`);
  });
});
