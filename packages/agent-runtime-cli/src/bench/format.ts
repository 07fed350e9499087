import { type FilesResult, filesWorkloads, formatSize } from "./files-phase.js";
import type { BenchResult } from "./run-bench.js";
import type { Summary } from "./stats.js";
import type { TargetCheck } from "./target-checks.js";

const ms = (s: Summary | null | undefined) => (s ? `${s.p50} / ${s.p95} / ${s.p99}` : "-");
const x = (r: number | null) => (r === null ? "-" : `${r}x`);
const mib = (bytes: number | null) =>
  bytes === null ? "not measured" : `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const bound = (t: TargetCheck) => `${t.comparison === "atMost" ? "<=" : ">="} ${t.target}`;

/** A plain-text summary of one engine's run, for the terminal. */
export function formatBenchResult(result: BenchResult): string {
  const lines = [`${result.engine} (${result.iterations} rounds; ms p50 / p95 / p99)`];
  for (const [name, r] of Object.entries(result.contenders)) {
    const first = r.firstCommand ? `  first command ${ms(r.firstCommand)}` : "";
    lines.push(
      `  ${name.padEnd(16)} start ${ms(r.start).padEnd(26)} destroy ${ms(r.destroy).padEnd(26)} exec ${ms(r.exec)}${first}${r.errors ? `  errors ${r.errors}: ${r.firstError}` : ""}`,
    );
  }
  const { ratios, parallel, concurrent, memory, pool } = result;
  lines.push(
    `  exec: ours ${x(ratios.execSpeedupVsApi)} faster than the bare API, p99/p50 ${ratios.execTail ?? "-"}; exec/cli ${x(ratios.execVsCli)}, bare api exec/cli ${x(ratios.apiExecVsCli)}`,
    `  start/api ${x(ratios.startVsApi)}, start/cli ${x(ratios.startVsCli)}, first command/api start ${x(ratios.firstCommandVsApiStart)}`,
  );
  if (parallel)
    lines.push(
      `  ${parallel.execs} execs at once, ${parallel.rounds} rounds: ${parallel.errors} errors, wall ${ms(parallel.wall)}, per exec ${ms(parallel.exec)}; ${parallel.execs} one after another ${ms(parallel.sequentialWall)} (${x(parallel.sequentialVsParallel)})${parallel.firstErrors[0] ? `; first error: ${parallel.firstErrors[0]}` : ""}`,
    );
  lines.push(
    `  ${concurrent.sessions} concurrent sessions: ${concurrent.errors} errors, ${concurrent.wallMs} ms, ${concurrent.sessionsPerSecond} sessions/s`,
    `  idle memory: ${mib(memory.bytesPerSession)} per session (${memory.samples} sessions)${memory.baseline ? `, bare API ${mib(memory.baseline.bytesPerSession)} (${memory.baseline.samples}), over it ${mib(memory.overBaselineBytes)}` : ""}`,
  );
  if (pool)
    lines.push(
      `  pool of ${pool.size}: hand-out ${ms(pool.start)}, with first exec ${ms(pool.firstCommand)} (hits ${pool.hits}, misses ${pool.misses})`,
    );
  if (result.files) lines.push(...formatFiles(result.files));
  const missed = Object.entries(result.targets).filter(([, t]) => t.met === false);
  lines.push(
    missed.length
      ? `  targets missed: ${missed.map(([k, t]) => `${k} ${t.value} (target ${bound(t)})`).join(", ")}`
      : "  every measured target met",
  );
  return `${lines.join("\n")}\n`;
}

const workloadNames = { small: "1 MiB file", large: "large file", tree: "tree" } as const;

/** The files phase: each contender's p50 in and out per workload, and ours against the others. */
function formatFiles(files: FilesResult): string[] {
  const { sizes } = files;
  const lines = [
    `  files (p50 in / out, ms): large file ${formatSize(sizes.largeBytes)}, tree of ${sizes.treeFiles} files (${formatSize(sizes.treeBytes)})${files.note ? `; ${files.note}` : ""}`,
  ];
  for (const [name, c] of Object.entries(files.contenders)) {
    const cells = filesWorkloads.map(
      (w) => `${workloadNames[w]} ${c[w].in?.p50 ?? "-"} / ${c[w].out?.p50 ?? "-"}`,
    );
    const rss = c.rssGrowthBytes
      ? `, rss +${mib(Math.max(c.rssGrowthBytes.in ?? 0, c.rssGrowthBytes.out ?? 0))}`
      : "";
    lines.push(
      `    ${name.padEnd(18)} ${cells.join(", ")}${rss}${c.errors ? `  errors ${c.errors}: ${c.firstError}` : ""}`,
    );
  }
  const r = files.ratios;
  lines.push(
    `    ours / archive API: large ${x(r.largeInVsApi)} / ${x(r.largeOutVsApi)}, tree ${x(r.treeInVsApi)} / ${x(r.treeOutVsApi)}; ours / CLI: large ${x(r.largeInVsCli)} / ${x(r.largeOutVsCli)}, tree ${x(r.treeInVsCli)} / ${x(r.treeOutVsCli)}`,
  );
  return lines;
}
