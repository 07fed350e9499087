import {
  type CapabilityReport,
  doctorReport,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { stubCapabilityRows } from "@cadre/agent-runtime-provider-stub";
import {
  type BackendSession,
  defineProvider,
  type ProviderDescriptor,
  type SessionBackend,
  SessionLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";

const optionsSchema = z.strictObject({ greeting: z.string().optional() });
type Options = z.output<typeof optionsSchema>;

/**
 * A provider that lives in a test file, for registerProvider(): sessions are records in memory
 * and nothing runs (every command exits 0 at once, with no output). Its capability row is the
 * stub's under its own id, so it offers no isolation. `extra` adds descriptor fields.
 */
export function inMemoryProvider(
  id: string,
  extra: Partial<ProviderDescriptor<Options>> = {},
): ProviderDescriptor<Options> {
  const row: CapabilityReport = { ...(stubCapabilityRows[0] as CapabilityReport), providerId: id };
  return defineProvider({
    id,
    packageName: "(a test file)",
    title: "records in memory, nothing runs",
    optionsSchema,
    create: (options) =>
      new SessionLifecycle(new InMemoryBackend(id, row, options.greeting ?? "nothing to check")),
    capabilityRows: [row],
    backendHooks: () => ({
      findBackendLeftovers: async () => [],
      readBackendLabels: async () => "",
      plantForeignObjects: async () => [],
    }),
    ...extra,
  });
}

class InMemoryBackend implements SessionBackend {
  private readonly sessions = new Map<string, BackendSession>();

  constructor(
    readonly providerId: string,
    private readonly row: CapabilityReport,
    private readonly greeting: string,
  ) {}

  async capabilities() {
    return this.row;
  }
  async create({ id, labels }: { id: string; labels: Record<string, string> }) {
    this.sessions.set(id, { labels, state: "running" });
  }
  async exec(id: string) {
    if (!this.sessions.has(id)) throw new SessionNotFoundError(id, { providerId: this.providerId });
    return {
      exitCode: 0,
      stdout: "",
      stderr: "",
      timedOut: false,
      truncated: false,
      durationMs: 0,
      cause: { kind: "exited" as const },
    };
  }
  async stop(id: string) {
    const session = this.sessions.get(id);
    if (session) session.state = "stopped";
  }
  async destroy(id: string) {
    this.sessions.delete(id);
  }
  async find(id: string) {
    return this.sessions.get(id);
  }
  async list() {
    return [...this.sessions.values()];
  }
  async doctor() {
    return doctorReport(this.providerId, [
      {
        id: `${this.providerId}.memory`,
        title: "memory",
        ok: true,
        required: true,
        detail: this.greeting,
      },
    ]);
  }
}
