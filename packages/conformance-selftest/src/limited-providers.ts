import {
  type CapabilityReport,
  checkPolicy,
  type ExecOptions,
  type ExecResult,
  type IsolationPolicy,
  type SessionOptions,
} from "@cadre/agent-runtime-contract";
import { DelegatingProvider } from "./delegating-provider.js";
import { execWithLateCallbacks } from "./late-callbacks.js";

/**
 * Conformant but limited providers: each lacks one feature and says so in its report. The suite
 * must pass them, through the branch that checks an honest refusal instead of the probe.
 */

/**
 * Cannot stream: the callbacks get their chunks only once the command has ended, and the report
 * says features.streaming is false.
 */
export class WithoutStreaming extends DelegatingProvider {
  override async capabilities(): Promise<CapabilityReport> {
    const report = await super.capabilities();
    return { ...report, features: { ...report.features, streaming: false } };
  }

  override async exec(
    sessionId: string,
    argv: string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    return execWithLateCallbacks((o) => super.exec(sessionId, argv, o), options);
  }
}

/** Has no TTLs: ttlMs is reported as not enforced (features.ttl false) and refused. */
export class WithoutTtl extends DelegatingProvider {
  override async capabilities(): Promise<CapabilityReport> {
    const report = await super.capabilities();
    return {
      ...report,
      policy: {
        ...report.policy,
        ttlMs: { enforced: false, mechanism: "none: sessions live until destroyed (fixture)" },
      },
      features: { ...report.features, ttl: false },
    };
  }

  override async startSession(policy: IsolationPolicy, options?: SessionOptions): Promise<string> {
    checkPolicy(policy, await this.capabilities());
    return super.startSession(policy, options);
  }
}
