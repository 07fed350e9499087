import { once } from "node:events";
import { cpus, loadavg, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { SessionPool } from "@cadre/agent-runtime";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type {
  BenchEngine,
  Contender,
  EngineTargets,
  IdleMemory,
} from "@cadre/agent-runtime-provider-utils";
import { type FilesResult, type FilesSettings, filesPhase } from "./files-phase.js";
import { oursContender, oursFilesContender } from "./ours.js";
import { ratio, type Summary, summarize, timed } from "./stats.js";
import { checkTargets, type TargetCheck, type TargetName, tailRatio } from "./target-checks.js";

export interface BenchSettings {
  engine: BenchEngine;
  /** The value of the run label (`cadre.bench/run`) on everything this run creates. */
  runId: string;
  /** The provider "cadre" measures beside the engine's baselines, in every phase. */
  provider: IsolationProvider;
  /** A second instance of the same provider for the pool, when `poolSize` is set. */
  poolProvider?: IsolationProvider;
  policy: IsolationPolicy;
  iterations: number;
  concurrency: number;
  poolSize?: number;
  /** Execs started at once in one session in the parallel phase. Default 20. */
  parallelExecs?: number;
  /** Rounds of the parallel phase. Default: iterations, at most 20. */
  parallelRounds?: number;
  /** Idle sessions (and as many bare sandboxes) whose memory is measured. Default 5. */
  memorySessions?: number;
  /** The files phase's sizes; its rounds follow `iterations`. */
  files: Omit<FilesSettings, "iterations">;
  progress?: (message: string) => void;
}

export interface ContenderResult {
  kind: Contender["kind"];
  start?: Summary | null;
  destroy?: Summary | null;
  startDestroy?: Summary | null;
  /** The first exec in a sandbox just started (lifecycle phase). */
  firstExec?: Summary | null;
  /** Time to first command, cold: start plus first exec, per round. */
  firstCommand?: Summary | null;
  exec?: Summary | null;
  errors: number;
  firstError?: string;
}

export interface BenchResult {
  engine: string;
  runId: string;
  iterations: number;
  startedAt: string;
  host: { cpus: number; loadAverage: number[]; memoryBytes: number; node: string };
  contenders: Record<string, ContenderResult>;
  /** Our exec runs this many times in each round of the exec phase, every baseline once. */
  oursExecsPerRound: number;
  ratios: {
    /** Ours over the bare API, exec p50 (below 1: ours is faster). */
    execVsApi: number | null;
    execVsCli: number | null;
    startVsApi: number | null;
    startVsCli: number | null;
    /** The bare API's exec against the CLI: the best any engine-exec client gets. */
    apiExecVsCli: number | null;
    /** The bare API's exec p50 over ours: how many times faster ours is. */
    execSpeedupVsApi: number | null;
    /** Our exec p99 over our exec p50. */
    execTail: number | null;
    /** Our cold first command (start + first exec) p50 over the bare API's create+start p50. */
    firstCommandVsApiStart: number | null;
  };
  parallel: {
    /** Execs started at once, in one session of ours. */
    execs: number;
    rounds: number;
    errors: number;
    firstErrors: string[];
    /** Wall time of one round of `execs` at once. */
    wall: Summary | null;
    /** Each exec's time from the round's start to its own result. */
    exec: Summary | null;
    /** Wall time of `execs` one after another in the same session, alternating with the above. */
    sequentialWall: Summary | null;
    sequentialErrors: number;
    /** sequentialWall p50 over wall p50. */
    sequentialVsParallel: number | null;
  } | null;
  concurrent: {
    sessions: number;
    errors: number;
    wallMs: number;
    sessionsPerSecond: number;
    firstErrors: string[];
  };
  memory: IdleMemory & {
    /** The bare API's idle sandboxes, measured the same way at the same time. */
    baseline: IdleMemory | null;
    /** bytesPerSession minus the baseline's; null without a baseline. */
    overBaselineBytes: number | null;
  };
  pool?: {
    size: number;
    /** Hand-out alone. */
    startP50Ms: number | null;
    start: Summary | null;
    /** The first exec in the handed-out session. */
    firstExec: Summary | null;
    /** Hand-out plus first exec, per sample. */
    firstCommand: Summary | null;
    hits: number;
    misses: number;
    refillErrors: number;
  };
  /**
   * `cadre-runtime cp` in and out against the engine's copy API and CLI; null when the provider
   * has no files operations.
   */
  files: FilesResult | null;
  /** The targets this engine has (target-checks.ts); null target: none here. */
  engineTargets: EngineTargets | null;
  targets: Record<TargetName, TargetCheck>;
  /** Objects with the run label found at the end and removed (0 when every phase cleaned up). */
  leftoversRemoved: number;
}

const warmupRounds = 2;
/**
 * Our exec costs a few ms against the baselines' tens: it runs this many times back to back in
 * each round of the exec phase, so that its p99 rests on enough samples to be more than the
 * round's maximum, for a twentieth of the phase's time.
 */
export const oursExecsPerRound = 5;
const memorySettleMs = 1000;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Runs every phase on one engine. Contenders alternate within each round (ABAB, then BABA). */
export async function runBench(settings: BenchSettings): Promise<BenchResult> {
  const say = settings.progress ?? (() => {});
  const { engine } = settings;
  // The provider itself first, then the engine's baselines: the order of every round.
  const contenders = [oursContender(settings.provider, settings.policy), ...engine.baselines];
  const startedAt = new Date().toISOString();
  const samples = new Map<
    string,
    {
      start: number[];
      destroy: number[];
      sum: number[];
      firstExec: number[];
      firstCommand: number[];
      exec: number[];
    }
  >();
  const results: Record<string, ContenderResult> = {};
  for (const c of contenders) {
    samples.set(c.name, {
      start: [],
      destroy: [],
      sum: [],
      firstExec: [],
      firstCommand: [],
      exec: [],
    });
    results[c.name] = { kind: c.kind, errors: 0 };
  }
  const fail = (c: Contender, error: unknown) => {
    const r = results[c.name]!;
    r.errors += 1;
    r.firstError ??= message(error);
  };
  const order = (round: number) => (round % 2 === 0 ? contenders : [...contenders].reverse());
  const timesPerRound = (c: Contender) => (c.kind === "ours" ? oursExecsPerRound : 1);

  try {
    say(`${engine.label}: start, first exec, destroy, ${settings.iterations} rounds`);
    for (const c of contenders) {
      if (c.lifecycle && c.firstExec) await c.prepare?.(settings.iterations + warmupRounds);
    }
    for (let round = -warmupRounds; round < settings.iterations; round++) {
      for (const c of order(round)) {
        if (!c.lifecycle) continue;
        try {
          let id = "";
          const start = await timed(async () => {
            id = await c.lifecycle!.start();
          });
          let first: number | undefined;
          let destroy: number;
          try {
            if (c.firstExec) first = await timed(() => c.firstExec!(id));
          } finally {
            destroy = await timed(() => c.lifecycle!.destroy(id));
          }
          if (round >= 0) {
            const s = samples.get(c.name)!;
            s.start.push(start);
            s.destroy.push(destroy);
            s.sum.push(start + destroy);
            if (first !== undefined) {
              s.firstExec.push(first);
              s.firstCommand.push(start + first);
            }
          }
        } catch (error) {
          fail(c, error);
        }
      }
    }

    const execRounds = settings.iterations * 2;
    say(
      `${engine.label}: exec true, ${execRounds} rounds (ours ${oursExecsPerRound} times a round)`,
    );
    const ready: Contender[] = [];
    for (const c of contenders) {
      if (!c.exec) continue;
      try {
        await c.prepare?.((execRounds + warmupRounds * 2) * timesPerRound(c));
        await c.exec.setup();
        ready.push(c);
      } catch (error) {
        fail(c, error);
      }
    }
    try {
      for (let round = -warmupRounds * 2; round < execRounds; round++) {
        for (const c of round % 2 === 0 ? ready : [...ready].reverse()) {
          for (let i = 0; i < timesPerRound(c); i++) {
            try {
              const ms = await timed(() => c.exec!.run());
              if (round >= 0) samples.get(c.name)!.exec.push(ms);
            } catch (error) {
              fail(c, error);
            }
          }
        }
      }
    } finally {
      for (const c of ready) await c.exec!.teardown().catch((error: unknown) => fail(c, error));
    }
    for (const c of contenders) {
      const s = samples.get(c.name)!;
      const r = results[c.name]!;
      if (c.lifecycle) {
        r.start = summarize(s.start);
        r.destroy = summarize(s.destroy);
        r.startDestroy = summarize(s.sum);
        if (c.firstExec) {
          r.firstExec = summarize(s.firstExec);
          r.firstCommand = summarize(s.firstCommand);
        }
      }
      if (c.exec) r.exec = summarize(s.exec);
    }

    const parallelExecs = settings.parallelExecs ?? 20;
    const parallelRounds = settings.parallelRounds ?? Math.min(settings.iterations, 20);
    say(
      `${engine.label}: ${parallelExecs} execs at once in one session, ${parallelRounds} rounds (and ${parallelExecs} one after another)`,
    );
    const parallel = await parallelPhase(settings, parallelExecs, parallelRounds).catch(
      (error: unknown) => {
        say(`${engine.label}: parallel phase failed: ${message(error)}`);
        return {
          execs: parallelExecs,
          rounds: 0,
          errors: parallelExecs,
          firstErrors: [message(error)],
          wall: null,
          exec: null,
          sequentialWall: null,
          sequentialErrors: 0,
          sequentialVsParallel: null,
        };
      },
    );

    const pool = settings.poolSize
      ? await poolPhase(
          settings,
          settings.poolProvider ?? settings.provider,
          settings.poolSize,
          say,
        )
      : undefined;
    say(`${engine.label}: ${settings.concurrency} concurrent sessions, each running one exec`);
    const concurrent = await concurrentPhase(
      settings.provider,
      settings.policy,
      settings.concurrency,
    );
    say(`${engine.label}: memory of idle sessions and of the bare API's sandboxes`);
    const memory = await memoryPhase(settings);
    const files = await runFilesPhase(settings, say);

    const byKind = (kind: Contender["kind"]) => contenders.find((c) => c.kind === kind)?.name ?? "";
    const ours = results[byKind("ours")];
    const api = results[byKind("api")];
    const cli = results[byKind("cli")];
    const ratios = {
      execVsApi: ratio(ours?.exec, api?.exec),
      execVsCli: ratio(ours?.exec, cli?.exec),
      startVsApi: ratio(ours?.start, api?.start),
      startVsCli: ratio(ours?.start, cli?.start),
      apiExecVsCli: ratio(api?.exec, cli?.exec),
      execSpeedupVsApi: ratio(api?.exec, ours?.exec),
      execTail: tailRatio(ours?.exec),
      firstCommandVsApiStart: ratio(ours?.firstCommand, api?.start),
    };
    const targets = checkTargets(
      {
        oursExec: ours?.exec,
        apiExec: api?.exec,
        oursFirstCommand: ours?.firstCommand,
        apiStart: api?.start,
        parallelErrors: parallel.rounds > 0 || parallel.errors > 0 ? parallel.errors : null,
        concurrentErrors: concurrent.errors,
        poolFirstCommand: pool?.firstCommand,
        idleMemoryOverBaselineBytes: memory.overBaselineBytes,
        files,
      },
      engine.targets,
    );
    const result: BenchResult = {
      engine: engine.label,
      runId: settings.runId,
      iterations: settings.iterations,
      startedAt,
      host: {
        cpus: cpus().length,
        loadAverage: loadavg(),
        memoryBytes: totalmem(),
        node: process.version,
      },
      contenders: results,
      oursExecsPerRound,
      ratios,
      parallel,
      concurrent,
      memory,
      files,
      engineTargets: engine.targets ?? null,
      targets,
      leftoversRemoved: 0,
    };
    if (pool) result.pool = pool;
    return result;
  } finally {
    const removed = await engine.cleanup().catch(() => 0);
    if (removed > 0) say(`${engine.label}: removed ${removed} leftover object(s) of this run`);
  }
}

/** The files phase, when the provider has files operations. */
async function runFilesPhase(
  settings: BenchSettings,
  say: (message: string) => void,
): Promise<FilesResult | null> {
  const { engine, provider } = settings;
  if (!(await provider.capabilities()).features.files) {
    say(`${engine.label}: no files operations, files phase skipped`);
    return null;
  }
  return filesPhase(
    [oursFilesContender(provider, settings.policy), ...(engine.filesBaselines ?? [])],
    { ...settings.files, iterations: settings.iterations },
    engine.filesNote,
    (message) => say(`${engine.label}: ${message}`),
  );
}

async function execTrue(provider: IsolationProvider, id: string): Promise<void> {
  const result = await provider.exec(id, ["true"]);
  if (result.exitCode !== 0) throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
}

/**
 * `execs` execs of `true` at once in one session of ours, round after round, alternating with
 * the same number one after another in the same session.
 */
async function parallelPhase(
  settings: BenchSettings,
  execs: number,
  rounds: number,
): Promise<NonNullable<BenchResult["parallel"]>> {
  const { provider } = settings;
  const id = await provider.startSession(settings.policy);
  const walls: number[] = [];
  const latencies: number[] = [];
  const sequentialWalls: number[] = [];
  const failures: unknown[] = [];
  let sequentialErrors = 0;
  const atOnce = async (record: boolean) => {
    const started = performance.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: execs }, async () => {
        await execTrue(provider, id);
        return performance.now() - started;
      }),
    );
    const wall = performance.now() - started;
    if (!record) return;
    walls.push(wall);
    for (const o of outcomes) {
      if (o.status === "fulfilled") latencies.push(o.value);
      else failures.push(o.reason);
    }
  };
  const oneAfterAnother = async (record: boolean) => {
    let errors = 0;
    const wall = await timed(async () => {
      for (let i = 0; i < execs; i++) await execTrue(provider, id).catch(() => errors++);
    });
    if (!record) return;
    sequentialErrors += errors;
    if (errors === 0) sequentialWalls.push(wall);
  };
  try {
    for (let round = -warmupRounds; round < rounds; round++) {
      if (round % 2 === 0) {
        await atOnce(round >= 0);
        await oneAfterAnother(round >= 0);
      } else {
        await oneAfterAnother(round >= 0);
        await atOnce(round >= 0);
      }
    }
  } finally {
    await provider.destroySession(id);
  }
  const wall = summarize(walls);
  const sequentialWall = summarize(sequentialWalls);
  return {
    execs,
    rounds,
    errors: failures.length,
    firstErrors: failures.slice(0, 3).map(message),
    wall,
    exec: summarize(latencies),
    sequentialWall,
    sequentialErrors,
    sequentialVsParallel: ratio(sequentialWall, wall),
  };
}

/**
 * Time to first command from a full pool: hand-out, then the first exec in that session. Before
 * each sample the pool is refilled to its size.
 */
async function poolPhase(
  settings: BenchSettings,
  provider: IsolationProvider,
  size: number,
  say: (message: string) => void,
): Promise<NonNullable<BenchResult["pool"]>> {
  say(
    `${settings.engine.label}: SessionPool of ${size}, ${settings.iterations} hand-outs, each with its first exec`,
  );
  const pool = new SessionPool(provider, { size, closeProvider: false });
  const handOuts: number[] = [];
  const firstExecs: number[] = [];
  const firstCommands: number[] = [];
  try {
    await pool.prewarm(settings.policy);
    for (let i = -warmupRounds; i < settings.iterations; i++) {
      while (pool.stats().warm < size) await once(pool, "warm");
      let id = "";
      const handOut = await timed(async () => {
        id = await pool.startSession(settings.policy);
      });
      try {
        const first = await timed(() => execTrue(pool, id));
        if (i >= 0) {
          handOuts.push(handOut);
          firstExecs.push(first);
          firstCommands.push(handOut + first);
        }
      } finally {
        await pool.destroySession(id);
      }
    }
    const stats = pool.stats();
    const start = summarize(handOuts);
    return {
      size,
      startP50Ms: start?.p50 ?? null,
      start,
      firstExec: summarize(firstExecs),
      firstCommand: summarize(firstCommands),
      hits: stats.hits,
      misses: stats.misses,
      refillErrors: stats.refillErrors,
    };
  } finally {
    await pool.close();
  }
}

async function concurrentPhase(
  provider: IsolationProvider,
  policy: IsolationPolicy,
  count: number,
): Promise<BenchResult["concurrent"]> {
  const one = async () => {
    const id = await provider.startSession(policy);
    try {
      await execTrue(provider, id);
    } finally {
      await provider.destroySession(id);
    }
  };
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: count }, one));
  const wallMs = performance.now() - started;
  const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
  return {
    sessions: count,
    errors: failures.length,
    wallMs: Math.round(wallMs),
    sessionsPerSecond: Math.round(((count - failures.length) / (wallMs / 1000)) * 100) / 100,
    firstErrors: failures.slice(0, 3).map(message),
  };
}

/**
 * Idle sessions of ours and as many idle sandboxes of the bare API, started alternately, left
 * alone for a second, then measured the same way at the same time.
 */
async function memoryPhase(settings: BenchSettings): Promise<BenchResult["memory"]> {
  const { engine } = settings;
  const measure = engine.idleMemory;
  if (!measure) {
    return {
      method: "not measured for this engine",
      bytesPerSession: null,
      samples: 0,
      baseline: null,
      overBaselineBytes: null,
    };
  }
  const api = engine.baselines.find((c) => c.kind === "api")?.lifecycle;
  const measureBaseline = api ? engine.baselineIdleMemory : undefined;
  const ours: string[] = [];
  const bare: string[] = [];
  try {
    for (let i = 0; i < (settings.memorySessions ?? 5); i++) {
      ours.push(await settings.provider.startSession(settings.policy));
      if (api && measureBaseline) bare.push(await api.start());
    }
    await sleep(memorySettleMs);
    const mine = await measure(ours);
    const baseline = measureBaseline ? await measureBaseline(bare) : null;
    return {
      ...mine,
      baseline,
      overBaselineBytes:
        mine.bytesPerSession === null ||
        baseline === null ||
        baseline.bytesPerSession === null ||
        baseline.samples === 0
          ? null
          : mine.bytesPerSession - baseline.bytesPerSession,
    };
  } finally {
    await Promise.allSettled([
      ...ours.map((id) => settings.provider.destroySession(id)),
      ...bare.map((id) => api!.destroy(id)),
    ]);
  }
}
