import { once } from "node:events";
import { cpus, loadavg, totalmem } from "node:os";
import { SessionPool } from "@cadre/agent-runtime";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { BenchEngine, Contender, IdleMemory } from "./contender.js";
import { ratio, type Summary, summarize, timed } from "./stats.js";

export interface BenchSettings {
  engine: BenchEngine;
  /** The value of the run label (`cadre.bench/run`) on everything this run creates. */
  runId: string;
  /** The provider "cadre" uses, for the concurrency and memory phases. */
  provider: IsolationProvider;
  /** A second instance of the same provider for the pool, when `poolSize` is set. */
  poolProvider?: IsolationProvider;
  policy: IsolationPolicy;
  iterations: number;
  concurrency: number;
  poolSize?: number;
  /** Idle sessions whose memory is measured. Default 5. */
  memorySessions?: number;
  progress?: (message: string) => void;
}

export interface ContenderResult {
  kind: Contender["kind"];
  start?: Summary | null;
  destroy?: Summary | null;
  startDestroy?: Summary | null;
  exec?: Summary | null;
  errors: number;
  firstError?: string;
}

/** What issue 7 asks of the provider, checked against this run's numbers. */
export const benchTargets = {
  execVsApi: 1.15,
  execVsCli: 0.8,
  startVsApi: 1.1,
  concurrentErrors: 0,
  poolStartP50Ms: 10,
} as const;

export interface BenchResult {
  engine: string;
  runId: string;
  iterations: number;
  startedAt: string;
  host: { cpus: number; loadAverage: number[]; memoryBytes: number; node: string };
  contenders: Record<string, ContenderResult>;
  ratios: {
    execVsApi: number | null;
    execVsCli: number | null;
    startVsApi: number | null;
    startVsCli: number | null;
    /** The bare API's exec against the CLI: the best any client of this engine gets. */
    apiExecVsCli: number | null;
  };
  concurrent: {
    sessions: number;
    errors: number;
    wallMs: number;
    sessionsPerSecond: number;
    firstErrors: string[];
  };
  memory: IdleMemory;
  pool?: {
    size: number;
    startP50Ms: number | null;
    start: Summary | null;
    hits: number;
    misses: number;
    refillErrors: number;
  };
  targets: Record<
    keyof typeof benchTargets,
    { target: number; value: number | null; met: boolean | null }
  >;
  /** Objects with the run's label found at the end and removed (0 when every phase cleaned up). */
  leftoversRemoved: number;
}

const warmupRounds = 2;

/** Runs every phase on one engine. Contenders alternate within each round (ABAB, then BABA). */
export async function runBench(settings: BenchSettings): Promise<BenchResult> {
  const say = settings.progress ?? (() => {});
  const { engine } = settings;
  const startedAt = new Date().toISOString();
  const samples = new Map<
    string,
    { start: number[]; destroy: number[]; sum: number[]; exec: number[] }
  >();
  const results: Record<string, ContenderResult> = {};
  for (const c of engine.contenders) {
    samples.set(c.name, { start: [], destroy: [], sum: [], exec: [] });
    results[c.name] = { kind: c.kind, errors: 0 };
  }
  const fail = (c: Contender, error: unknown) => {
    const r = results[c.name]!;
    r.errors += 1;
    r.firstError ??= error instanceof Error ? error.message : String(error);
  };
  const order = (round: number) =>
    round % 2 === 0 ? engine.contenders : [...engine.contenders].reverse();

  try {
    say(`${engine.label}: start+destroy, ${settings.iterations} rounds`);
    for (let round = -warmupRounds; round < settings.iterations; round++) {
      for (const c of order(round)) {
        if (!c.lifecycle) continue;
        try {
          let id = "";
          const start = await timed(async () => {
            id = await c.lifecycle!.start();
          });
          const destroy = await timed(() => c.lifecycle!.destroy(id));
          if (round >= 0) {
            const s = samples.get(c.name)!;
            s.start.push(start);
            s.destroy.push(destroy);
            s.sum.push(start + destroy);
          }
        } catch (error) {
          fail(c, error);
        }
      }
    }

    say(`${engine.label}: exec true, ${settings.iterations * 2} rounds`);
    const ready: Contender[] = [];
    for (const c of engine.contenders) {
      if (!c.exec) continue;
      try {
        await c.exec.setup();
        ready.push(c);
      } catch (error) {
        fail(c, error);
      }
    }
    try {
      for (let round = -warmupRounds * 2; round < settings.iterations * 2; round++) {
        for (const c of round % 2 === 0 ? ready : [...ready].reverse()) {
          try {
            const ms = await timed(() => c.exec!.run());
            if (round >= 0) samples.get(c.name)!.exec.push(ms);
          } catch (error) {
            fail(c, error);
          }
        }
      }
    } finally {
      for (const c of ready) await c.exec!.teardown().catch((error: unknown) => fail(c, error));
    }
    for (const c of engine.contenders) {
      const s = samples.get(c.name)!;
      const r = results[c.name]!;
      if (c.lifecycle) {
        r.start = summarize(s.start);
        r.destroy = summarize(s.destroy);
        r.startDestroy = summarize(s.sum);
      }
      if (c.exec) r.exec = summarize(s.exec);
    }

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
    say(`${engine.label}: memory of idle sessions`);
    const memory = await memoryPhase(settings);

    const byKind = (kind: Contender["kind"]) =>
      engine.contenders.find((c) => c.kind === kind)?.name ?? "";
    const ours = results[byKind("ours")];
    const api = results[byKind("api")];
    const cli = results[byKind("cli")];
    const ratios = {
      execVsApi: ratio(ours?.exec, api?.exec),
      execVsCli: ratio(ours?.exec, cli?.exec),
      startVsApi: ratio(ours?.start, api?.start),
      startVsCli: ratio(ours?.start, cli?.start),
      apiExecVsCli: ratio(api?.exec, cli?.exec),
    };
    const check = (key: keyof typeof benchTargets, value: number | null, atMost = true) => ({
      target: benchTargets[key],
      value,
      met:
        value === null ? null : atMost ? value <= benchTargets[key] : value === benchTargets[key],
    });
    const ratioCheck = (key: "execVsApi" | "execVsCli" | "startVsApi", value: number | null) =>
      engine.ratioTargetsApply === false
        ? { target: benchTargets[key], value, met: null }
        : check(key, value);
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
      ratios,
      concurrent,
      memory,
      targets: {
        execVsApi: ratioCheck("execVsApi", ratios.execVsApi),
        execVsCli: ratioCheck("execVsCli", ratios.execVsCli),
        startVsApi: ratioCheck("startVsApi", ratios.startVsApi),
        concurrentErrors: check("concurrentErrors", concurrent.errors, false),
        poolStartP50Ms: check("poolStartP50Ms", pool?.startP50Ms ?? null),
      },
      leftoversRemoved: 0,
    };
    if (pool) result.pool = pool;
    return result;
  } finally {
    const removed = await engine.cleanup().catch(() => 0);
    if (removed > 0) say(`${engine.label}: removed ${removed} leftover object(s) of this run`);
  }
}

/** Hand-out latency of a full pool: before each sample the pool is refilled to its size. */
async function poolPhase(
  settings: BenchSettings,
  provider: IsolationProvider,
  size: number,
  say: (message: string) => void,
): Promise<NonNullable<BenchResult["pool"]>> {
  say(`${settings.engine.label}: SessionPool of ${size}, ${settings.iterations} hand-outs`);
  const pool = new SessionPool(provider, { size, closeProvider: false });
  const times: number[] = [];
  try {
    await pool.prewarm(settings.policy);
    for (let i = -warmupRounds; i < settings.iterations; i++) {
      while (pool.stats().warm < size) await once(pool, "warm");
      let id = "";
      const ms = await timed(async () => {
        id = await pool.startSession(settings.policy);
      });
      if (i >= 0) times.push(ms);
      await pool.destroySession(id);
    }
    const stats = pool.stats();
    const start = summarize(times);
    return {
      size,
      startP50Ms: start?.p50 ?? null,
      start,
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
      const result = await provider.exec(id, ["true"]);
      if (result.exitCode !== 0)
        throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
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
    firstErrors: failures.slice(0, 3).map((e) => (e instanceof Error ? e.message : String(e))),
  };
}

async function memoryPhase(settings: BenchSettings): Promise<IdleMemory> {
  const measure = settings.engine.idleMemory;
  if (!measure)
    return { method: "not measured for this engine", bytesPerSession: null, samples: 0 };
  const ids: string[] = [];
  try {
    for (let i = 0; i < (settings.memorySessions ?? 5); i++) {
      ids.push(await settings.provider.startSession(settings.policy));
    }
    return await measure(ids);
  } finally {
    await Promise.allSettled(ids.map((id) => settings.provider.destroySession(id)));
  }
}
