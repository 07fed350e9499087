import type {
  CapabilityReport,
  DoctorReport,
  ExecRequest,
  ExecResult,
  SessionInfo,
  ValidatedPolicy,
} from "@cadre/agent-runtime-contract";

/** What a sandbox is created with: the validated policy, plus the labels of the session. */
export type KataSessionConfig = ValidatedPolicy & {
  /** buildSessionLabels(): session id, owner, created-at, policy, ttl, and the caller's labels. */
  sessionLabels: Record<string, string>;
};

/** The seed's result shape; an adapter may return a full ExecResult. */
export interface KataExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * The seed package's adapter interface: how KataProvider reaches a sandbox backend. Implement it
 * to plug in another backend; the provider keeps the contract's checks and bookkeeping.
 */
export interface KataAdapter {
  createSandbox(id: string, config: KataSessionConfig): Promise<void>;
  execInSandbox(
    id: string,
    cmd: string[],
    request?: ExecRequest,
  ): Promise<KataExecResult | ExecResult>;
  stopSandbox(id: string): Promise<void>;
  destroySandbox(id: string): Promise<void>;
  /** What the sandboxes enforce. Without it the provider assumes the static Kata row. */
  capabilities?(): Promise<CapabilityReport>;
  doctor?(): Promise<DoctorReport>;
  close?(): Promise<void>;
}

/**
 * An adapter that is also the source of truth about its sessions (it reads its backend), so the
 * provider lists, gets and reaps through it instead of through its own memory.
 */
export interface SessionBackend extends KataAdapter {
  readonly readsBackend: true;
  capabilities(): Promise<CapabilityReport>;
  doctor(): Promise<DoctorReport>;
  listSandboxes(): Promise<SessionInfo[]>;
  getSandbox(id: string): Promise<SessionInfo | undefined>;
  /** Throws SESSION_NOT_FOUND / SESSION_NOT_RUNNING as the contract says. */
  execInSandbox(id: string, cmd: string[], request?: ExecRequest): Promise<ExecResult>;
  close(): Promise<void>;
}

export function isSessionBackend(adapter: KataAdapter): adapter is SessionBackend {
  return (adapter as Partial<SessionBackend>).readsBackend === true;
}
