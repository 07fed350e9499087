import type { IsolationLevel } from "@cadre/agent-runtime-contract";
import type { EngineTargets, FilesTargets } from "@cadre/agent-runtime-provider-utils";
import type { FilesResult } from "./files-phase.js";
import { ratio, type Summary } from "./stats.js";

// Issue 13's targets (EngineTargets) for an engine whose baselines are that engine's own API and
// CLI, for the exec path through cadre-agent. Each provider's baseline says which apply to its
// engine (BenchEngine.targets, through the bench's tools.engineTargets); an engine without them
// (the stub, whose baseline is a host process) still has its numbers reported, with no mark.

/**
 * Issue 14's files targets, on every engine: a 1 MiB file in and out at most 5 ms p50 each; a
 * large file and a tree of small files within 1.2 times the engine's own archive API (an engine
 * without one, like containerd, has its numbers reported unmarked).
 */
export const filesTargets: FilesTargets = { smallFileP50Ms: 5, versusArchiveApi: 1.2 };

/** Where a command is a fork inside the sandbox's own kernel: runc, containerd's shims, a VM. */
export const forkSpeedTargets: EngineTargets = {
  execSpeedupVsApi: 10,
  execP50Ms: 3,
  execTailRatio: 4,
  coldFirstCommand: { factor: 1.1, plusMs: 3 },
  files: filesTargets,
};

/** gVisor: every fork and exec inside the sandbox goes through its user-space kernel. */
export const userKernelTargets: EngineTargets = {
  execSpeedupVsApi: 5,
  execTailRatio: 4,
  coldFirstCommand: { factor: 1.1, plusMs: 3 },
  files: filesTargets,
};

/** The agent's targets for an engine, by the isolation level its provider reports. */
export function agentExecTargets(isolation: IsolationLevel): EngineTargets {
  return isolation === "user-kernel" ? userKernelTargets : forkSpeedTargets;
}

/** Targets every engine has, the stub included. */
export const sharedTargets = {
  /** Failed execs among the parallel phase's (20 at once in one session). */
  parallelErrors: 0,
  /** Failed sessions in the concurrency phase. */
  concurrentErrors: 0,
  /** Pool hand-out plus the first exec in the handed-out session, p50, ms. */
  poolFirstCommandP50Ms: 10,
  /** Idle memory of a session of ours minus that of the bare API's sandbox, bytes. */
  idleMemoryOverBaselineBytes: 2 ** 20,
  /**
   * How far the caller's RSS may rise while it copies the large file in or out: bounded, far
   * below the file's size whatever that is (the transfer streams, with flow control).
   */
  filesRssGrowthBytes: 64 * 2 ** 20,
} as const;

export const targetNames = [
  "execP50Ms",
  "execSpeedupVsApi",
  "execTailRatio",
  "parallelErrors",
  "coldFirstCommandMs",
  "poolFirstCommandP50Ms",
  "idleMemoryOverBaselineBytes",
  "concurrentErrors",
  "filesSmallInP50Ms",
  "filesSmallOutP50Ms",
  "filesLargeInVsApi",
  "filesLargeOutVsApi",
  "filesTreeInVsApi",
  "filesTreeOutVsApi",
  "filesRssGrowthBytes",
] as const;
export type TargetName = (typeof targetNames)[number];

export interface TargetCheck {
  /** The bound; null where this engine has no such target. */
  target: number | null;
  comparison: "atMost" | "atLeast";
  /** What this run measured; null when it could not be measured. */
  value: number | null;
  /** null: not a target here, or not measured. */
  met: boolean | null;
}

/** What the target checks read from one engine's run. */
export interface MeasuredForTargets {
  oursExec: Summary | null | undefined;
  apiExec: Summary | null | undefined;
  /** Ours: startSession then the first exec, each round's sum. */
  oursFirstCommand: Summary | null | undefined;
  /** The bare API's create+start (its lifecycle's start). */
  apiStart: Summary | null | undefined;
  parallelErrors: number | null;
  concurrentErrors: number | null;
  /** Pool hand-out plus first exec, each sample's sum. */
  poolFirstCommand: Summary | null | undefined;
  idleMemoryOverBaselineBytes: number | null;
  /** The files phase; null when it did not run (a provider without files). */
  files: FilesResult | null;
}

const round = (x: number, places: number) => {
  const f = 10 ** places;
  return Math.round(x * f) / f;
};

/** p99 / p50 of one summary, rounded to 3 places. */
export function tailRatio(s: Summary | null | undefined): number | null {
  if (!s || s.p50 === 0) return null;
  return round(s.p99 / s.p50, 3);
}

/** The cold first-command bound: factor × the bare API's create+start p50 + plusMs. */
export function coldFirstCommandBound(
  apiStart: Summary | null | undefined,
  bound: EngineTargets["coldFirstCommand"],
): number | null {
  return apiStart ? round(bound.factor * apiStart.p50 + bound.plusMs, 2) : null;
}

function check(
  target: number | null | undefined,
  comparison: TargetCheck["comparison"],
  value: number | null | undefined,
): TargetCheck {
  const t = target ?? null;
  const v = value ?? null;
  return {
    target: t,
    comparison,
    value: v,
    met: t === null || v === null ? null : comparison === "atMost" ? v <= t : v >= t,
  };
}

/** Every target of one engine's run: the engine's own (when it has them) and the shared ones. */
export function checkTargets(
  m: MeasuredForTargets,
  engine: EngineTargets | undefined,
): Record<TargetName, TargetCheck> {
  return {
    execP50Ms: check(engine?.execP50Ms, "atMost", m.oursExec?.p50),
    execSpeedupVsApi: check(engine?.execSpeedupVsApi, "atLeast", ratio(m.apiExec, m.oursExec)),
    execTailRatio: check(engine?.execTailRatio, "atMost", tailRatio(m.oursExec)),
    parallelErrors: check(sharedTargets.parallelErrors, "atMost", m.parallelErrors),
    coldFirstCommandMs: check(
      engine ? coldFirstCommandBound(m.apiStart, engine.coldFirstCommand) : null,
      "atMost",
      m.oursFirstCommand?.p50,
    ),
    poolFirstCommandP50Ms: check(
      sharedTargets.poolFirstCommandP50Ms,
      "atMost",
      m.poolFirstCommand?.p50,
    ),
    idleMemoryOverBaselineBytes: check(
      sharedTargets.idleMemoryOverBaselineBytes,
      "atMost",
      m.idleMemoryOverBaselineBytes,
    ),
    concurrentErrors: check(sharedTargets.concurrentErrors, "atMost", m.concurrentErrors),
    ...filesChecks(m.files, engine?.files),
  };
}

function filesChecks(
  files: FilesResult | null,
  targets: FilesTargets | undefined,
): Record<Extract<TargetName, `files${string}`>, TargetCheck> {
  const ours = files && Object.values(files.contenders).find((c) => c.kind === "ours");
  const small = targets?.smallFileP50Ms;
  const versus = targets?.versusArchiveApi;
  const peak = ours?.rssGrowthBytes;
  return {
    filesSmallInP50Ms: check(small, "atMost", ours?.small.in?.p50),
    filesSmallOutP50Ms: check(small, "atMost", ours?.small.out?.p50),
    filesLargeInVsApi: check(versus, "atMost", files?.ratios.largeInVsApi),
    filesLargeOutVsApi: check(versus, "atMost", files?.ratios.largeOutVsApi),
    filesTreeInVsApi: check(versus, "atMost", files?.ratios.treeInVsApi),
    filesTreeOutVsApi: check(versus, "atMost", files?.ratios.treeOutVsApi),
    filesRssGrowthBytes: check(
      sharedTargets.filesRssGrowthBytes,
      "atMost",
      peak ? Math.max(peak.in ?? 0, peak.out ?? 0) : null,
    ),
  };
}
