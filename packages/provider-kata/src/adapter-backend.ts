import {
  type CapabilityReport,
  type DoctorReport,
  doctorReport,
  type ExecRequest,
  type ExecResult,
  SessionNotFoundError,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import {
  type BackendSession,
  type NewSession,
  type SessionBackend,
  withCause,
} from "@cadre/agent-runtime-provider-utils";
import type { KataAdapter, KataExecResult } from "./adapter.js";
import { kataCapabilityRows, providerId } from "./capabilities.js";

/** Whether a constructor argument is a seed KataAdapter rather than options. */
export function isKataAdapter(value: unknown): value is KataAdapter {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as KataAdapter).createSandbox === "function"
  );
}

/**
 * The seed's KataAdapter as a SessionBackend, so `new KataProvider(adapter)` runs the one
 * lifecycle. A seed adapter cannot list its sandboxes, so their labels and state are kept here,
 * for this instance only; its three-field results get the contract's other fields.
 */
export class AdapterBackend implements SessionBackend {
  readonly providerId = providerId;
  private readonly sessions = new Map<string, BackendSession>();

  constructor(readonly adapter: KataAdapter) {}

  async capabilities(): Promise<CapabilityReport> {
    if (this.adapter.capabilities) return this.adapter.capabilities();
    const report = kataCapabilityRows[0] as CapabilityReport;
    // It keeps no end records: a removed session is not found at once.
    return { ...report, features: { ...report.features, sessionEnds: false } };
  }

  async create({ id, policy, labels }: NewSession): Promise<void> {
    await this.adapter.createSandbox(id, { ...policy, sessionLabels: labels });
    this.sessions.set(id, { labels, state: "running" });
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const session = this.sessions.get(id);
    if (!session) throw new SessionNotFoundError(id, { providerId });
    if (session.state !== "running") {
      throw new SessionNotRunningError(id, session.state, { providerId });
    }
    const started = performance.now();
    const result: KataExecResult | ExecResult = await this.adapter.execInSandbox(
      id,
      request.argv,
      request,
    );
    // A seed adapter gives exit code and output, maybe more; the cause is read from the fields,
    // as every result's is.
    const { cause: _given, ...given } = result as KataExecResult & Partial<ExecResult>;
    return withCause({
      ...given,
      timedOut: given.timedOut ?? false,
      truncated: given.truncated ?? false,
      durationMs: given.durationMs ?? Math.round(performance.now() - started),
    });
  }

  async stop(id: string): Promise<void> {
    await this.adapter.stopSandbox(id);
    const session = this.sessions.get(id);
    if (session) session.state = "stopped";
  }

  async destroy(id: string): Promise<void> {
    await this.adapter.destroySandbox(id);
    this.sessions.delete(id);
  }

  async find(id: string): Promise<BackendSession | undefined> {
    return this.sessions.get(id);
  }

  async list(): Promise<BackendSession[]> {
    return [...this.sessions.values()];
  }

  async doctor(): Promise<DoctorReport> {
    if (this.adapter.doctor) return this.adapter.doctor();
    return doctorReport(providerId, [
      {
        id: "kata.adapter",
        title: "custom adapter",
        ok: true,
        required: false,
        detail: "checks are the adapter's own",
      },
    ]);
  }

  async close(): Promise<void> {
    await this.adapter.close?.();
  }
}
