import { registerProvider } from "@cadre/agent-runtime";
import {
  BackendError,
  type CapabilityReport,
  doctorReport,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { stubCapabilityRows } from "@cadre/agent-runtime-provider-stub";
import {
  type BackendSession,
  defineProvider,
  type SessionBackend,
  SessionLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { doctorCommand } from "../src/cli/doctor-command.js";
import { configFromFlags } from "../src/cli/provider-choice.js";
import { renderRegisteredCapabilityMatrix } from "../src/matrix/render-matrix.js";

// A provider that lives in this file: sessions are records in memory, and nothing runs. It is
// known to the command line and the matrix through registerProvider() alone.
const id = "in-memory";
const row: CapabilityReport = { ...(stubCapabilityRows[0] as CapabilityReport), providerId: id };

class InMemoryBackend implements SessionBackend {
  readonly providerId = id;
  private readonly sessions = new Map<string, BackendSession>();

  constructor(private readonly greeting: string) {}

  async capabilities() {
    return row;
  }
  async create({ id: sessionId, labels }: { id: string; labels: Record<string, string> }) {
    this.sessions.set(sessionId, { labels, state: "running" });
  }
  async exec(sessionId: string): Promise<never> {
    if (!this.sessions.has(sessionId))
      throw new SessionNotFoundError(sessionId, { providerId: id });
    throw new BackendError("the in-memory example runs nothing", { providerId: id });
  }
  async stop(sessionId: string) {
    const session = this.sessions.get(sessionId);
    if (session) session.state = "stopped";
  }
  async destroy(sessionId: string) {
    this.sessions.delete(sessionId);
  }
  async find(sessionId: string) {
    return this.sessions.get(sessionId);
  }
  async list() {
    return [...this.sessions.values()];
  }
  async doctor() {
    return doctorReport(id, [
      { id: `${id}.memory`, title: "memory", ok: true, required: true, detail: this.greeting },
    ]);
  }
}

registerProvider(
  defineProvider({
    id,
    packageName: "(a test file)",
    title: "records in memory, nothing runs",
    optionsSchema: z.strictObject({ greeting: z.string().optional() }),
    create: (options) =>
      new SessionLifecycle(new InMemoryBackend(options.greeting ?? "nothing to check")),
    capabilityRows: [row],
    backendHooks: () => ({
      findBackendLeftovers: async () => [],
      readBackendLabels: async () => "",
      plantForeignObjects: async () => [],
    }),
  }),
);

function captureStdout(): { text: () => string } {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  return { text: () => out };
}

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
});
