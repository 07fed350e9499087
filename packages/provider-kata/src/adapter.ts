import type {
  CapabilityReport,
  DoctorReport,
  ExecRequest,
  ExecResult,
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
 * The seed package's adapter interface, kept for its users: `new KataProvider(adapter)` runs the
 * session lifecycle over it (see AdapterBackend). New backends implement provider-utils'
 * SessionBackend instead, which lists its sessions from the engine.
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
