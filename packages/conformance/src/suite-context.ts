import { randomBytes, randomUUID } from "node:crypto";
import type {
  CapabilityReport,
  IsolationPolicy,
  IsolationProvider,
  PolicyField,
} from "@cadre/agent-runtime-contract";
import type { ConformanceOptions } from "./options.js";
import { type OrphanOwner, startOrphanOwner } from "./orphan-owner.js";

/** Label every session of one suite run carries, so that checks never count other runs' objects. */
export const runLabelKey = "cadre.conformance/run";
/** Label of one test's sessions, for the "nothing was created" checks. */
export const testLabelKey = "cadre.conformance/test";

/**
 * State shared by the tests of one runConformance() call: the provider, its report, the run
 * label, and the sessions to destroy after each test (or after an area, for shared sessions).
 */
export class ConformanceContext {
  readonly runId = randomUUID();
  readonly runLabels: Record<string, string> = { [runLabelKey]: this.runId };
  private providerInstance: IsolationProvider | undefined;
  private reportValue: CapabilityReport | undefined;
  private readonly perTest = new Set<string>();
  private readonly shared = new Set<string>();
  private tokenCount = 0;

  constructor(readonly options: ConformanceOptions) {}

  async setUp(): Promise<void> {
    this.providerInstance = await this.options.createProvider();
    this.reportValue = await this.providerInstance.capabilities();
  }

  get provider(): IsolationProvider {
    if (!this.providerInstance)
      throw new Error("the provider was not created: see beforeAll's error");
    return this.providerInstance;
  }

  get report(): CapabilityReport {
    if (!this.reportValue) throw new Error("capabilities() did not answer: see beforeAll's error");
    return this.reportValue;
  }

  /** A time limit scaled for slow backends. */
  ms(base: number): number {
    return Math.round(base * (this.options.timeScale ?? 1));
  }

  enforced(field: PolicyField): boolean {
    return this.report.policy[field].enforced;
  }

  /** Whether a command this limit ended says so in its cause (and as limit.hit). */
  reportsCause(field: "memory" | "pids"): boolean {
    return this.enforced(field) && this.report.policy[field].reportsCause !== false;
  }

  /** A string no process contains unless a probe put it there. */
  token(prefix = "cadre-probe"): string {
    this.tokenCount += 1;
    return `${prefix}-${randomBytes(6).toString("hex")}-${this.tokenCount}`;
  }

  /** basePolicy, then the image, then `extra`; labels merged, with the run label on top. */
  policy(extra: Record<string, unknown> = {}): IsolationPolicy {
    const base = this.options.basePolicy ?? {};
    const labels = {
      ...(base.labels ?? {}),
      ...((extra.labels as Record<string, string> | undefined) ?? {}),
      ...this.runLabels,
    };
    const policy: Record<string, unknown> = { ...base };
    if (this.options.image !== undefined) policy.image = this.options.image;
    Object.assign(policy, extra, { labels });
    return policy as IsolationPolicy;
  }

  /** Starts a session that is destroyed after the current test. */
  async start(extra: Record<string, unknown> = {}): Promise<string> {
    const id = await this.provider.startSession(this.policy(extra));
    this.perTest.add(id);
    return id;
  }

  /** Starts a session that lives until destroyShared() (an area's afterAll). */
  async startShared(extra: Record<string, unknown> = {}): Promise<string> {
    const id = await this.provider.startSession(this.policy(extra));
    this.shared.add(id);
    return id;
  }

  /**
   * Starts a session in a node process of its own that owns it (orphan-owner.ts), and tracks it
   * for destruction: a test kills that owner when it wants the session orphaned.
   */
  async startInOwnerProcess(
    labels: Record<string, string>,
    options: { ownPidNamespace?: boolean } = {},
  ): Promise<OrphanOwner> {
    const owner = await startOrphanOwner(
      this.options.providerModule,
      this.policy({ labels }),
      this.ms(60_000),
      options,
    );
    this.track(owner.sessionId);
    return owner;
  }

  /** Records a session some other path created (an unexpected success) so that it is destroyed. */
  track(id: string): void {
    this.perTest.add(id);
  }

  async destroy(id: string): Promise<void> {
    await this.provider.destroySession(id);
    this.perTest.delete(id);
    this.shared.delete(id);
  }

  async destroyPerTest(): Promise<void> {
    await this.destroyEach(this.perTest);
  }

  async destroyShared(): Promise<void> {
    await this.destroyEach(this.shared);
  }

  /** Ids listSessions() reports with these labels (the run label by default). */
  async listedIds(labels: Record<string, string> = this.runLabels): Promise<string[]> {
    const sessions = await this.provider.listSessions({ labels });
    return sessions.map((s) => s.id).sort();
  }

  /** What findBackendLeftovers() finds in the backend with these labels. */
  async leftovers(labels: Record<string, string> = this.runLabels): Promise<string[]> {
    const found = await this.options.findBackendLeftovers(labels);
    return [...found].sort();
  }

  /** Best effort at the end of the run: destroy whatever still carries the run label, then close. */
  async tearDown(): Promise<void> {
    if (!this.providerInstance) return;
    const ids = new Set([...this.perTest, ...this.shared]);
    try {
      for (const id of await this.listedIds()) ids.add(id);
    } catch {
      // The leak check reports listing failures; teardown only tries to tidy up.
    }
    await Promise.allSettled([...ids].map((id) => this.providerInstance?.destroySession(id)));
    await this.providerInstance.close?.();
  }

  private async destroyEach(ids: Set<string>): Promise<void> {
    const list = [...ids];
    ids.clear();
    const results = await Promise.allSettled(list.map((id) => this.provider.destroySession(id)));
    const failures = results.flatMap((r, i) =>
      r.status === "rejected" ? [`${list[i]}: ${String(r.reason)}`] : [],
    );
    if (failures.length > 0) {
      throw new Error(`destroySession failed while cleaning up: ${failures.join("; ")}`);
    }
  }
}
