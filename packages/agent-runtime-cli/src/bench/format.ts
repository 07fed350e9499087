import type { BenchResult } from "./run-bench.js";
import type { Summary } from "./stats.js";

const ms = (s: Summary | null | undefined) => (s ? `${s.p50} / ${s.p95} / ${s.p99}` : "-");
const x = (r: number | null) => (r === null ? "-" : `${r}x`);

/** A plain-text summary of one engine's run, for the terminal. */
export function formatBenchResult(result: BenchResult): string {
  const lines = [`${result.engine} (${result.iterations} rounds; ms p50 / p95 / p99)`];
  for (const [name, r] of Object.entries(result.contenders)) {
    lines.push(
      `  ${name.padEnd(16)} start ${ms(r.start).padEnd(26)} destroy ${ms(r.destroy).padEnd(26)} exec ${ms(r.exec)}${r.errors ? `  errors ${r.errors}: ${r.firstError}` : ""}`,
    );
  }
  const { ratios, concurrent, memory, pool } = result;
  lines.push(
    `  ratios: exec/api ${x(ratios.execVsApi)}, exec/cli ${x(ratios.execVsCli)}, start/api ${x(ratios.startVsApi)}, start/cli ${x(ratios.startVsCli)}; bare api exec/cli ${x(ratios.apiExecVsCli)}`,
    `  ${concurrent.sessions} concurrent: ${concurrent.errors} errors, ${concurrent.wallMs} ms, ${concurrent.sessionsPerSecond} sessions/s`,
    `  idle memory: ${memory.bytesPerSession === null ? "not measured" : `${(memory.bytesPerSession / 2 ** 20).toFixed(1)} MiB per session`} (${memory.samples} sessions)`,
  );
  if (pool)
    lines.push(
      `  pool of ${pool.size}: hand-out ${ms(pool.start)} (hits ${pool.hits}, misses ${pool.misses})`,
    );
  const missed = Object.entries(result.targets).filter(([, t]) => t.met === false);
  lines.push(
    missed.length
      ? `  targets missed: ${missed.map(([k, t]) => `${k} ${t.value} (target ${t.target})`).join(", ")}`
      : "  every measured target met",
  );
  return `${lines.join("\n")}\n`;
}
