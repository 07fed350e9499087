import { constants, homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { ExecResult, SessionInfo } from "@cadre/agent-runtime-contract";
import {
  absolutePathOption,
  parseProviderOptions,
  sessionEndRetentionOption,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";
import { stubProviderId } from "./capabilities.js";

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

export interface ResolvedStubOptions {
  enforcement: "strict" | "advisory";
  stateDir: string;
  script: ScriptFunction | undefined;
  scriptOnly: boolean;
  sessionEndRetentionMs: number | undefined;
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

/**
 * The stub's options as cadre.config.json's `isolation.stub` section holds them: the one
 * definition, which the loader validates and docs/config-schema.md shows.
 */
export const stubOptionsSchema = z
  .strictObject({
    stateDir: absolutePathOption
      .optional()
      .describe(
        "Directory for the stub's session records and scratch directories. Default: `$XDG_STATE_HOME/cadre-stub`, else `~/.local/state/cadre-stub` (the command line uses the same).",
      ),
    sessionEndRetentionMs: sessionEndRetentionOption.optional(),
    enforcement: z
      .enum(["strict", "advisory"])
      .optional()
      .describe(
        "`strict` (default) rejects limits the stub cannot enforce with CAPABILITY_MISMATCH; `advisory` records them instead (for unit tests of cadre core).",
      ),
  })
  .describe("Options of the stub provider (`@cadre/agent-runtime-provider-stub`).");

/** The stub's config options. */
export type StubOptions = z.output<typeof stubOptionsSchema>;

/** What `new StubProvider(options)` takes: the config options and, in code only, a script. */
export const stubProviderOptionsSchema = stubOptionsSchema.safeExtend({
  /** Canned exec results, for deterministic tests. */
  script: z
    .union([
      z.array(scriptedExecSchema),
      z.custom<ScriptFunction>((v) => typeof v === "function", { message: "must be a function" }),
    ])
    .optional() as z.ZodOptional<
    z.ZodType<readonly ScriptedExec[] | ScriptFunction, readonly ScriptedExec[] | ScriptFunction>
  >,
  /** With a script: an argv the script does not answer exits 127 without running anything. */
  scriptOnly: z.boolean().optional(),
});

/**
 * `enforcement`: "strict" (default) gives CAPABILITY_MISMATCH for memory, cpu, networkIsolation,
 * readOnlyRootfs, pids, user and image; "advisory" accepts and records them, still unenforced
 * (cadre core's unit tests only). `stateDir`: where sessions live on disk. `script`: canned exec
 * results; `scriptOnly`: an argv the script does not answer exits 127 without running.
 */
export type StubProviderOptions = z.input<typeof stubProviderOptionsSchema>;

export function resolveStubOptions(options: unknown): ResolvedStubOptions {
  const parsed = parseProviderOptions(stubProviderId, stubProviderOptionsSchema, options);
  return {
    enforcement: parsed.enforcement ?? "strict",
    stateDir: parsed.stateDir ?? defaultStateDir(),
    // The caller's own entries: the schema checked them, and keeps only the fields it knows.
    script: toScriptFunction((options as StubProviderOptions | undefined)?.script),
    scriptOnly: parsed.scriptOnly ?? false,
    sessionEndRetentionMs: parsed.sessionEndRetentionMs,
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
