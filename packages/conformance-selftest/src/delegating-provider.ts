import type {
  CapabilityReport,
  DoctorReport,
  ExecOptions,
  ExecResult,
  IsolationPolicy,
  IsolationProvider,
  ProviderFiles,
  ProviderProcesses,
  ReapOptions,
  SessionFilter,
  SessionInfo,
  SessionOptions,
  SessionStats,
  WatchStatsOptions,
} from "@cadre/agent-runtime-contract";

/** Forwards every call to `inner`. Each broken fixture overrides the one thing it breaks. */
export class DelegatingProvider implements IsolationProvider {
  readonly specificationVersion = "isolation-provider/v1" as const;

  constructor(protected readonly inner: IsolationProvider) {}

  get id(): string {
    return this.inner.id;
  }
  get files(): ProviderFiles | undefined {
    return this.inner.files;
  }
  get processes(): ProviderProcesses | undefined {
    return this.inner.processes;
  }
  sessionStats(sessionId: string): Promise<SessionStats> {
    if (!this.inner.sessionStats) throw new Error("the wrapped provider reads no usage");
    return this.inner.sessionStats(sessionId);
  }
  watchSessionStats(sessionId: string, options?: WatchStatsOptions): AsyncIterable<SessionStats> {
    if (!this.inner.watchSessionStats) throw new Error("the wrapped provider reads no usage");
    return this.inner.watchSessionStats(sessionId, options);
  }
  capabilities(): Promise<CapabilityReport> {
    return this.inner.capabilities();
  }
  startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    return this.inner.startSession(policy, options);
  }
  exec(sessionId: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    return this.inner.exec(sessionId, argv, options);
  }
  stopSession(sessionId: string): Promise<void> {
    return this.inner.stopSession(sessionId);
  }
  destroySession(sessionId: string): Promise<void> {
    return this.inner.destroySession(sessionId);
  }
  getSession(sessionId: string): Promise<SessionInfo> {
    return this.inner.getSession(sessionId);
  }
  listSessions(filter?: SessionFilter): Promise<SessionInfo[]> {
    return this.inner.listSessions(filter);
  }
  reap(options?: ReapOptions): Promise<string[]> {
    return this.inner.reap(options);
  }
  doctor(): Promise<DoctorReport> {
    if (!this.inner.doctor) throw new Error("the wrapped provider has no doctor()");
    return this.inner.doctor();
  }
  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/** Tells the backend reader about every session started, so leftovers are attributed. */
export class RecordingProvider extends DelegatingProvider {
  constructor(
    inner: IsolationProvider,
    private readonly onStart: (id: string, labels: Record<string, string>) => void,
  ) {
    super(inner);
  }

  override async startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    const id = await super.startSession(policy, options);
    this.onStart(id, policy.labels ?? {});
    return id;
  }
}
