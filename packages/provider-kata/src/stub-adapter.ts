import type { CapabilityReport, ExecRequest } from "@cadre/agent-runtime-contract";
import type { KataAdapter, KataExecResult, KataSessionConfig } from "./adapter.js";
import { kataCapabilityRows, providerId } from "./capabilities.js";

/**
 * A no-op adapter with NO ISOLATION, for unit tests of code that uses KataProvider. It creates
 * nothing, and answers only `echo` (a scripted echo: the arguments joined, and a newline); any
 * other command gets exit 127. Its capabilities are advisory: policies are accepted and
 * recorded, nothing is enforced. KataProvider never uses it unless it is passed explicitly.
 */
export class StubKataAdapter implements KataAdapter {
  readonly sandboxes = new Map<string, KataSessionConfig>();

  async createSandbox(id: string, config: KataSessionConfig): Promise<void> {
    this.sandboxes.set(id, config);
  }

  async execInSandbox(_id: string, cmd: string[], _request?: ExecRequest): Promise<KataExecResult> {
    if (cmd[0] === "echo")
      return { exitCode: 0, stdout: `${cmd.slice(1).join(" ")}\n`, stderr: "" };
    return {
      exitCode: 127,
      stdout: "",
      stderr: `StubKataAdapter runs nothing (only a scripted echo): ${cmd[0]}: not found\n`,
    };
  }

  async stopSandbox(_id: string): Promise<void> {}

  async destroySandbox(id: string): Promise<void> {
    this.sandboxes.delete(id);
  }

  async capabilities(): Promise<CapabilityReport> {
    const base = kataCapabilityRows[0] as CapabilityReport;
    const policy = Object.fromEntries(
      Object.entries(base.policy).map(([field, capability]) => [
        field,
        field === "minimumIsolation"
          ? { enforced: true, mechanism: "no isolation: the stub adapter runs nothing" }
          : {
              enforced: false,
              advisory: true,
              mechanism: `recorded only by StubKataAdapter (${capability.mechanism} on real Kata)`,
            },
      ]),
    ) as CapabilityReport["policy"];
    return {
      providerId,
      variant: "StubKataAdapter",
      isolation: "none",
      policy,
      features: {
        streaming: false,
        stdin: false,
        files: false,
        processes: false,
        usage: false,
        ttl: true,
        persistentSessions: false,
      },
      defaults: { network: "host" },
    };
  }
}
