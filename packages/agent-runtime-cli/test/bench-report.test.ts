import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

// The tables and charts of docs/performance.md, which scripts/bench.mjs (`pnpm bench`) writes.
// It is plain JavaScript outside this package, so its exports are typed here.
interface Bar {
  label: string;
  value: number;
  kind: "ours" | "api" | "cli";
}
interface ChartSpec {
  title: string;
  subtitle?: string;
  groups: { heading: string; bars: Bar[] }[];
}
interface Tick {
  value: number;
  label: string | null;
}
interface BenchReport {
  textWidth(text: string, fontSize: number, bold?: boolean): number;
  logTicks(min: number, max: number): { lo: number; hi: number; ticks: Tick[] };
  formatMs(value: number): string;
  chartLayout(spec: ChartSpec): { left: number; right: number; width: number };
  svgChart(spec: ChartSpec): string;
  execChartSpec(results: unknown[]): ChartSpec;
  targetsTable(results: unknown[]): string;
  filesTargetsTable(results: unknown[]): string;
  filesContendersTable(results: unknown[]): string;
  filesChartSpec(results: unknown[]): ChartSpec;
  generatedPart(results: unknown[], failed?: string[]): string;
  marker: string;
}

const script = fileURLToPath(new URL("../../../scripts/bench.mjs", import.meta.url));
let report: BenchReport;
beforeAll(async () => {
  // A path in a variable: the script is JavaScript without type declarations.
  report = (await import(script)) as BenchReport;
});

const longHeading = "kata (stand-in shim, no VM)";
const spec = (): ChartSpec => ({
  title: "exec `true`, p50",
  subtitle: "in a sandbox that is already running",
  groups: [
    {
      heading: "docker (runc)",
      bars: [
        { label: "cadre", value: 1.21, kind: "ours" },
        { label: "dockerode", value: 45.57, kind: "api" },
        { label: "docker CLI", value: 63.49, kind: "cli" },
      ],
    },
    {
      heading: longHeading,
      bars: [
        { label: "cadre", value: 0.93, kind: "ours" },
        { label: "kata (stand-in shim, no VM) · containerd gRPC", value: 19.98, kind: "api" },
        { label: "ctr CLI", value: 50.91, kind: "cli" },
      ],
    },
  ],
});

interface SvgText {
  x: number;
  anchor: string;
  size: number;
  bold: boolean;
  text: string;
}

/** Every <text> element of a chart, with what its extent depends on. */
function texts(svg: string): SvgText[] {
  const out: SvgText[] = [];
  for (const m of svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
    const attrs = m[1]!;
    const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];
    out.push({
      x: Number(attr("x")),
      anchor: attr("text-anchor") ?? "start",
      size: Number(attr("font-size") ?? 12),
      bold: attr("font-weight") === "bold",
      text: m[2]!
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, "&"),
    });
  }
  return out;
}

describe("bench report: charts", () => {
  it("estimates text widths on the wide side of Verdana and DejaVu Sans", () => {
    // DejaVu Sans: "m" is 0.974 em, "i" 0.278 em; with the tenth added.
    expect(report.textWidth("m", 10)).toBeCloseTo(10.714, 2);
    expect(report.textWidth("i", 10)).toBeCloseTo(3.058, 2);
    expect(report.textWidth("m", 10, true)).toBeGreaterThan(report.textWidth("m", 10));
    // A character outside the table counts as a whole em.
    expect(report.textWidth("日", 12)).toBeCloseTo(13.2, 5);
    // The label that today's chart cut: about 300 px at 12 px, far more than a 7 px average.
    const w = report.textWidth("kata (stand-in shim, no VM) · containerd gRPC", 12);
    expect(w).toBeGreaterThan(290);
    expect(w).toBeLessThan(340);
  });

  it("makes the left margin wide enough for the longest bar label", () => {
    const s = spec();
    const layout = report.chartLayout(s);
    const longest = report.textWidth("kata (stand-in shim, no VM) · containerd gRPC", 12);
    expect(layout.left).toBeGreaterThanOrEqual(12 + longest);
    expect(layout.right - layout.left).toBeGreaterThanOrEqual(360);
    // Short labels only: a narrow margin, the chart's minimum width.
    const short = report.chartLayout({
      title: "t",
      groups: [{ heading: "stub", bars: [{ label: "cadre", value: 1, kind: "ours" }] }],
    });
    expect(short.left).toBe(Math.ceil(12 + report.textWidth("cadre", 12) + 10));
    expect(short.width).toBe(720);
  });

  it("keeps every text of the chart inside it", () => {
    const s = spec();
    // A heading longer than the minimum width widens the chart.
    s.groups[1]!.heading =
      `${longHeading} with a much longer description of its runtime, its shim and its host`;
    const svg = report.svgChart(s);
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    expect(width).toBeGreaterThan(720);
    for (const t of texts(svg)) {
      const w = report.textWidth(t.text, t.size, t.bold);
      const start = t.anchor === "end" ? t.x - w : t.anchor === "middle" ? t.x - w / 2 : t.x;
      expect({ text: t.text, start: start >= 0, end: start + w <= width }).toEqual({
        text: t.text,
        start: true,
        end: true,
      });
    }
  });

  it("puts a log axis with labelled ticks under bars of 1 and 45 ms", () => {
    const svg = report.svgChart(spec());
    expect(svg).toContain("ms (log scale)");
    const labels = texts(svg)
      .filter((t) => t.anchor === "middle" && /^[\d.]+$/.test(t.text))
      .map((t) => t.text);
    expect(labels).toEqual(["0.5", "1", "2", "5", "10", "20", "50", "100"]);
    // The 1.21 ms bar is a fair share of the 45 ms one (on a linear scale 2.7%), not a sliver.
    const widths = [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)" height="14"/g)].map(
      (m) => Number(m[1]),
    );
    expect(widths).toHaveLength(6);
    const [cadre, dockerode] = widths;
    expect(cadre! / dockerode!).toBeGreaterThan(0.15);
    expect(cadre).toBeGreaterThan(40);
    expect(cadre).toBeLessThan(dockerode!);
  });

  it("writes an SVG that stands alone", () => {
    const svg = report.svgChart(spec());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" version="1.1"')).toBe(true);
    expect(svg).toMatch(/viewBox="0 0 \d+ \d+"/);
    expect(svg).toContain("<title>exec `true`, p50</title>");
    expect(svg).not.toMatch(/<script|<style|@import|href=/);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    // Text is escaped.
    const odd = report.svgChart({
      title: "a < b & c",
      groups: [{ heading: 'x "y"', bars: [{ label: "<z>", value: 2, kind: "api" }] }],
    });
    expect(odd).toContain("a &lt; b &amp; c");
    expect(odd).toContain("&lt;z&gt;");
    expect(odd).toContain("x &quot;y&quot;");
  });
});

describe("bench report: log ticks", () => {
  it("covers the values with 1-2-5 steps, from below the smallest", () => {
    expect(report.logTicks(1.2, 45)).toEqual({
      lo: 1,
      hi: 50,
      ticks: [1, 2, 5, 10, 20, 50].map((value) => ({ value, label: String(value) })),
    });
    // The smallest value on a tick: one step lower, so its bar is never empty.
    expect(report.logTicks(1, 20).lo).toBe(0.5);
    expect(report.logTicks(1, 20).hi).toBe(20);
    expect(report.logTicks(0.07, 0.3).ticks.map((t) => t.value)).toEqual([0.05, 0.1, 0.2, 0.5]);
  });

  it("labels only the powers of ten past ten ticks", () => {
    const axis = report.logTicks(0.6, 320);
    expect(axis.ticks.map((t) => t.value)).toEqual([0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]);
    expect(axis.ticks.every((t) => t.label !== null)).toBe(true);
    const wide = report.logTicks(0.3, 1200);
    expect(wide.ticks.length).toBeGreaterThan(10);
    expect(wide.ticks.filter((t) => t.label !== null).map((t) => t.label)).toEqual([
      "1",
      "10",
      "100",
      "1000",
    ]);
  });

  it("formats bar values to three significant digits", () => {
    expect(report.formatMs(1.2345)).toBe("1.23");
    expect(report.formatMs(45.57)).toBe("45.6");
    expect(report.formatMs(173.08)).toBe("173");
  });
});

describe("bench report: tables", () => {
  const summary = (p50: number, p99 = p50, n = 30) => ({ n, p50, p95: p99, p99 });
  const engine = {
    engine: "docker (runc)",
    iterations: 30,
    startedAt: "2026-12-01T00:00:00.000Z",
    host: { cpus: 2, loadAverage: [1, 1, 1], node: "v20" },
    contenders: {
      cadre: {
        kind: "ours",
        start: summary(170),
        firstExec: summary(2),
        firstCommand: summary(172),
        exec: summary(1.5, 4, 300),
        errors: 0,
      },
      dockerode: { kind: "api", start: summary(175), exec: summary(45), errors: 0 },
    },
    ratios: {
      execVsCli: null,
      apiExecVsCli: null,
      startVsApi: 0.971,
      startVsCli: null,
      firstCommandVsApiStart: 0.983,
    },
    parallel: {
      execs: 20,
      rounds: 20,
      errors: 0,
      wall: summary(20),
      exec: summary(12),
      sequentialWall: summary(30),
      sequentialVsParallel: 1.5,
    },
    concurrent: { sessions: 50, errors: 0, sessionsPerSecond: 6.3 },
    memory: {
      bytesPerSession: 14 * 2 ** 20,
      baseline: { bytesPerSession: 13.5 * 2 ** 20 },
      overBaselineBytes: 0.5 * 2 ** 20,
    },
    pool: { startP50Ms: 1.6, firstCommand: summary(4.1) },
    engineTargets: { coldFirstCommand: { factor: 1.1, plusMs: 3 } },
    targets: {
      execP50Ms: { target: 3, comparison: "atMost", value: 1.5, met: true },
      execSpeedupVsApi: { target: 10, comparison: "atLeast", value: 30, met: true },
      execTailRatio: { target: 4, comparison: "atMost", value: 2.667, met: true },
      parallelErrors: { target: 0, comparison: "atMost", value: 0, met: true },
      coldFirstCommandMs: { target: 195.5, comparison: "atMost", value: 172, met: true },
      poolFirstCommandP50Ms: { target: 10, comparison: "atMost", value: 4.1, met: true },
      idleMemoryOverBaselineBytes: {
        target: 2 ** 20,
        comparison: "atMost",
        value: 0.5 * 2 ** 20,
        met: false,
      },
      concurrentErrors: { target: 0, comparison: "atMost", value: 0, met: true },
    },
  };

  it("has a row per engine with each target's value, mark and bound", () => {
    const rows = report.targetsTable([engine]).split("\n");
    expect(rows).toHaveLength(3);
    const cells = rows[2]!.split(" | ");
    expect(cells[0]).toBe("| docker (runc)");
    expect(cells[1]).toBe("1.5 ms ✓ (≤ 3 ms)");
    expect(cells[2]).toBe("30× ✓ (≥ 10×; dockerode 45 ms)");
    expect(cells[3]).toBe("2.67 ✓ (≤ 4; p99 4 ms of 300 execs)");
    expect(cells[4]).toBe(
      "0 errors ✓ (wall 20 ms, each exec 12 ms; 20 in a row 30 ms (1.5×); 20 rounds)",
    );
    expect(cells[5]).toBe("172 ms ✓ (≤ 195.5 ms = 1.1 × 175 + 3; 0.983× dockerode start)");
    expect(cells[6]).toBe("4.1 ms ✓ (≤ 10 ms; hand-out 1.6 ms)");
    expect(cells[7]).toBe("+0.50 MiB ✗ (≤ 1 MiB; 14.00 against 13.50 MiB)");
    expect(cells[8]).toBe("0 errors ✓ (50 at once, 6.3 sessions/s) |");
  });

  it("shows values without marks or bounds where an engine has no target", () => {
    const stub = {
      ...engine,
      engine: "stub",
      engineTargets: null,
      targets: {
        ...engine.targets,
        execP50Ms: { target: null, comparison: "atMost", value: 2.6, met: null },
      },
    };
    const cells = report.targetsTable([stub]).split("\n")[2]!.split(" | ");
    expect(cells[1]).toBe("2.6 ms");
  });

  it("starts the generated part with the marker", () => {
    const part = report.generatedPart([engine], ["kata stand-in"]);
    expect(part.startsWith(report.marker)).toBe(true);
    expect(part).toContain("Engines that failed to run: kata stand-in.");
    expect(part).toContain("img/bench-exec.svg");
  });

  it("charts each contender's exec p50 under its engine", () => {
    const chart = report.execChartSpec([engine]);
    expect(chart.groups).toEqual([
      {
        heading: "docker (runc)",
        bars: [
          { label: "cadre", value: 1.5, kind: "ours" },
          { label: "dockerode", value: 45, kind: "api" },
        ],
      },
    ]);
  });

  const files = (withApi: boolean) => {
    const both = (inMs: number, outMs: number) => ({ in: summary(inMs), out: summary(outMs) });
    const check = (target: number | null, value: number | null, met: boolean | null) => ({
      target,
      comparison: "atMost",
      value,
      met,
    });
    return {
      ...engine,
      engine: withApi ? "docker (runc)" : "kata (stand-in shim, no VM)",
      files: {
        sizes: {
          smallBytes: 2 ** 20,
          largeBytes: 100 * 2 ** 20,
          treeFiles: 10_000,
          treeBytes: 12.5 * 2 ** 20,
        },
        rounds: { small: 30, large: 3, tree: 3 },
        note: withApi ? null : "containerd has no copy API",
        contenders: {
          cadre: {
            kind: "ours",
            small: both(3.2, 4.1),
            large: both(610, 640),
            tree: both(900, 1300),
            rssGrowthBytes: { in: 5 * 2 ** 20, out: 3 * 2 ** 20 },
            errors: 0,
          },
          ...(withApi
            ? {
                "dockerode archive": {
                  kind: "api",
                  small: both(40, 45),
                  large: both(500, 600),
                  tree: both(1000, 1000),
                  rssGrowthBytes: { in: 1, out: 1 },
                  errors: 0,
                },
              }
            : {}),
        },
      },
      targets: {
        ...engine.targets,
        filesSmallInP50Ms: check(5, 3.2, true),
        filesSmallOutP50Ms: check(5, 4.1, true),
        filesLargeInVsApi: withApi ? check(1.2, 1.22, false) : check(1.2, null, null),
        filesLargeOutVsApi: withApi ? check(1.2, 1.067, true) : check(1.2, null, null),
        filesTreeInVsApi: withApi ? check(1.2, 0.9, true) : check(1.2, null, null),
        filesTreeOutVsApi: withApi ? check(1.2, 1.3, false) : check(1.2, null, null),
        filesRssGrowthBytes: check(64 * 2 ** 20, 5 * 2 ** 20, true),
      },
    };
  };

  it("has a files row per engine with each target's value, mark and what it rests on", () => {
    const rows = report.filesTargetsTable([files(true), files(false)]).split("\n");
    expect(rows).toHaveLength(4);
    const docker = rows[2]!.split(" | ");
    expect(docker[1]).toBe("3.2 ms ✓ (≤ 5 ms; 30 rounds)");
    expect(docker[3]).toBe("1.22× ✗ (≤ 1.2×; 610 ms against dockerode archive 500 ms)");
    expect(docker[6]).toBe("1.3× ✗ (≤ 1.2×; 1300 ms against dockerode archive 1000 ms)");
    expect(docker[7]).toBe("+5.00 MiB ✓ (≤ 64 MiB; 100 MiB file) |");
    const kata = rows[3]!.split(" | ");
    expect(kata[3]).toBe("610 ms (no archive API)");
  });

  it("lists every files contender and the engines' notes", () => {
    const table = report.filesContendersTable([files(true), files(false)]);
    expect(table).toContain(
      "| docker (runc) | dockerode archive | 40 / 45 | 500 / 600 | 1000 / 1000 | 30, 3, 3 | 0 |",
    );
    expect(table).toContain("- kata (stand-in shim, no VM): containerd has no copy API.");
    expect(report.generatedPart([files(true)])).toContain("img/bench-files.svg");
    expect(report.generatedPart([engine])).not.toContain("### Files");
  });

  it("charts each workload's copies in and out under its engine", () => {
    const chart = report.filesChartSpec([engine, files(true)]);
    expect(chart.groups.map((g) => g.heading)).toEqual([
      "docker (runc): a 1 MiB file",
      "docker (runc): a 100 MiB file",
      "docker (runc): a tree of 10,000 files (12.5 MiB)",
    ]);
    expect(chart.groups[2]!.bars).toEqual([
      { label: "cadre, in", value: 900, kind: "ours" },
      { label: "cadre, out", value: 1300, kind: "ours" },
      { label: "dockerode archive, in", value: 1000, kind: "api" },
      { label: "dockerode archive, out", value: 1000, kind: "api" },
    ]);
  });
});
