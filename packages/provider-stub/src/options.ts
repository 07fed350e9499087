import { constants, homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import {
  type ExecResult,
  PolicyValidationError,
  type SessionInfo,
  safeParseInput,
  toPolicyIssues,
} from "@cadre/agent-runtime-contract";
import { z } from "zod";

/** A canned answer: an exec whose argv equals `argv` exactly gets `result` without running. */
export interface ScriptedExec {
  argv: readonly string[];
  result: Partial<ExecResult>;
}

/** Returns a result for argv, or undefined to fall through (run for real, or 127 with scriptOnly). */
export type ScriptFunction = (
  argv: readonly string[],
  session: SessionInfo,
) => Partial<ExecResult> | undefined | Promise<Partial<ExecResult> | undefined>;

export interface StubProviderOptions {
  /**
   * "strict" (default): memory, cpu, networkIsolation, readOnlyRootfs, pids, user and image give
   * CAPABILITY_MISMATCH. "advisory": they are accepted and recorded in the session's policy, but
   * still not enforced. For cadre core's unit tests only.
   */
  enforcement?: "strict" | "advisory";
  /** Where sessions live on disk. Default `$XDG_STATE_HOME/cadre-stub` or `~/.local/state/cadre-stub`. */
  stateDir?: string;
  /** Canned exec results, for deterministic tests. */
  script?: readonly ScriptedExec[] | ScriptFunction;
  /** With a script: an argv the script does not answer exits 127 without running anything. */
  scriptOnly?: boolean;
}

export interface ResolvedStubOptions {
  enforcement: "strict" | "advisory";
  stateDir: string;
  script: ScriptFunction | undefined;
  scriptOnly: boolean;
}

export const scriptedResultSchema = z.object({
  exitCode: z.number().int().min(0).max(255).optional(),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  signal: z
    .string()
    .refine((s) => Object.hasOwn(constants.signals, s), {
      message: 'must be a signal name like "SIGKILL"',
    })
    .optional(),
  timedOut: z.boolean().optional(),
  truncated: z.boolean().optional(),
  durationMs: z.number().nonnegative().optional(),
  limitExceeded: z.enum(["memory", "pids"]).optional(),
});

const scriptedExecSchema = z.object({
  argv: z.array(z.string()).min(1),
  result: scriptedResultSchema,
});

const optionsSchema = z
  .strictObject({
    enforcement: z.enum(["strict", "advisory"]).optional(),
    stateDir: z
      .string()
      .min(1)
      .refine((p) => isAbsolute(p) && !p.includes("\0"), { message: "must be an absolute path" })
      .optional(),
    script: z
      .union([
        z.array(scriptedExecSchema),
        z.custom<ScriptFunction>((v) => typeof v === "function", { message: "must be a function" }),
      ])
      .optional(),
    scriptOnly: z.boolean().optional(),
  })
  .optional();

export function resolveStubOptions(options: unknown): ResolvedStubOptions {
  const parsed = safeParseInput(optionsSchema, options);
  if (!parsed.success) {
    throw new PolicyValidationError(toPolicyIssues(parsed.error), {
      subject: "stub provider options",
      providerId: "stub",
    });
  }
  const opts = (options ?? {}) as StubProviderOptions;
  return {
    enforcement: opts.enforcement ?? "strict",
    stateDir: opts.stateDir ?? defaultStateDir(),
    script: toScriptFunction(opts.script),
    scriptOnly: opts.scriptOnly ?? false,
  };
}

export function defaultStateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".local", "state");
  return join(base, "cadre-stub");
}

function toScriptFunction(script: StubProviderOptions["script"]): ScriptFunction | undefined {
  if (script === undefined) return undefined;
  if (typeof script === "function") return script;
  const entries = script.map((e) => ({ argv: [...e.argv], result: { ...e.result } }));
  return (argv) =>
    entries.find((e) => e.argv.length === argv.length && e.argv.every((a, i) => a === argv[i]))
      ?.result;
}
