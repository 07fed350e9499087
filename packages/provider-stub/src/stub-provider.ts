import { SessionLifecycle } from "@cadre/agent-runtime-provider-utils";
import { HostProcessBackend } from "./host-process-backend.js";
import type { StubProviderOptions } from "./options.js";

/**
 * No isolation: argv runs as a host child process in the session's scratch directory, with the
 * contract's exec semantics. The reference implementation and cadre core's test double.
 */
export class StubProvider extends SessionLifecycle {
  private readonly stateDirectory: string;

  constructor(options?: StubProviderOptions) {
    const backend = new HostProcessBackend(options);
    super(backend, { sessionEndRetentionMs: backend.options.sessionEndRetentionMs });
    this.stateDirectory = backend.options.stateDir;
  }

  /** Where this instance keeps its sessions. */
  get stateDir(): string {
    return this.stateDirectory;
  }
}

export function createStubProvider(options?: StubProviderOptions): StubProvider {
  return new StubProvider(options);
}
