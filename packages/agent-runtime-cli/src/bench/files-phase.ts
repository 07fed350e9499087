import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, posix } from "node:path";
import type { FilesContender } from "@cadre/agent-runtime-provider-utils";
import { type Summary, summarize, timed } from "./stats.js";

// The files phase: `cadre-runtime cp`'s two transfers (copyIn, copyOut over provider.files) and
// the engine's own copy API and CLI, each copying the same host file or tree into its own
// sandbox and back out, interleaved round by round. Three workloads: a 1 MiB file, a large file
// (100 MiB by default), a tree of many small files (10,000 by default).

export type FilesWorkloadName = "small" | "large" | "tree";
export const filesWorkloads: readonly FilesWorkloadName[] = ["small", "large", "tree"];

export interface FilesSettings {
  /** Bytes of the large file. */
  largeBytes: number;
  /** Files of the tree. */
  treeFiles: number;
  /** Rounds of the small file; the large file and the tree get a tenth (1 to 5). */
  iterations: number;
}

/** Our contender first, then the engine's; ours is "ours" whatever the others are. */
export type FilesPhaseContender = Omit<FilesContender, "kind"> & { kind: "ours" | "api" | "cli" };

export interface FilesDirections {
  in: Summary | null;
  out: Summary | null;
}

export interface FilesContenderResult {
  kind: FilesPhaseContender["kind"];
  small: FilesDirections;
  large: FilesDirections;
  tree: FilesDirections;
  /**
   * Peak growth of this process's RSS over its RSS before each transfer of the large file, the
   * largest of the rounds; null for a CLI (the bytes pass through another process).
   */
  rssGrowthBytes: { in: number | null; out: number | null } | null;
  errors: number;
  firstError?: string;
}

export interface FilesResult {
  sizes: { smallBytes: number; largeBytes: number; treeFiles: number; treeBytes: number };
  rounds: Record<FilesWorkloadName, number>;
  /** What the engine's baseline says of itself (e.g. that it has no copy API). */
  note: string | null;
  contenders: Record<string, FilesContenderResult>;
  /** Ours divided by the bare API's p50 (api) and the CLI's (cli), per workload and direction. */
  ratios: Record<`${FilesWorkloadName}${"In" | "Out"}Vs${"Api" | "Cli"}`, number | null>;
}

const smallBytes = 2 ** 20;
const sandboxDir = "/cadre-bench-files";
const warmup: Record<FilesWorkloadName, number> = { small: 2, large: 1, tree: 1 };
const rssSampleMs = 5;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Runs the phase. Every sandbox it starts is destroyed, and its host files removed. */
export async function filesPhase(
  contenders: FilesPhaseContender[],
  settings: FilesSettings,
  note: string | undefined,
  say: (message: string) => void,
): Promise<FilesResult> {
  const host = await mkdtemp(join(tmpdir(), "cadre-bench-files-"));
  // A large copy takes seconds: a tenth of the rounds, at least one and at most five.
  const fewer = Math.min(5, Math.max(1, Math.ceil(settings.iterations / 10)));
  const rounds: Record<FilesWorkloadName, number> = {
    small: Math.max(1, settings.iterations),
    large: fewer,
    tree: fewer,
  };
  const results: Record<string, FilesContenderResult> = {};
  const samples = new Map<string, Record<FilesWorkloadName, { in: number[]; out: number[] }>>();
  const rss = new Map<string, { in: number; out: number }>();
  const sandboxes = new Map<string, string>();
  try {
    const sources = {
      small: await randomFile(join(host, "small.bin"), smallBytes),
      large: await randomFile(join(host, "large.bin"), settings.largeBytes),
      tree: join(host, "tree"),
    };
    const treeBytes = await randomTree(sources.tree, settings.treeFiles);
    const expected = {
      small: `file of ${smallBytes} bytes`,
      large: `file of ${settings.largeBytes} bytes`,
      tree: `directory of ${settings.treeFiles} files`,
    };
    for (const [i, c] of contenders.entries()) {
      results[c.name] = {
        kind: c.kind,
        small: { in: null, out: null },
        large: { in: null, out: null },
        tree: { in: null, out: null },
        rssGrowthBytes: c.kind === "cli" ? null : { in: null, out: null },
        errors: 0,
      };
      samples.set(c.name, {
        small: { in: [], out: [] },
        large: { in: [], out: [] },
        tree: { in: [], out: [] },
      });
      await mkdir(join(host, `out-${i}`));
    }
    const fail = (c: FilesPhaseContender, error: unknown) => {
      const r = results[c.name]!;
      r.errors++;
      r.firstError ??= message(error);
    };
    const ready: FilesPhaseContender[] = [];
    for (const c of contenders) {
      try {
        const id = await c.sandbox.start();
        sandboxes.set(c.name, id);
        await c.makeDirectory(id, sandboxDir);
        ready.push(c);
      } catch (error) {
        fail(c, error);
      }
    }

    for (const workload of filesWorkloads) {
      const source = sources[workload];
      const name = basename(source);
      say(`files: ${describeWorkload(workload, settings)} in and out, ${rounds[workload]} rounds`);
      for (let round = -warmup[workload]; round < rounds[workload]; round++) {
        const order = round % 2 === 0 ? ready : [...ready].reverse();
        for (const c of order) {
          const id = sandboxes.get(c.name)!;
          const out = join(host, `out-${contenders.indexOf(c)}`);
          const watchRss = workload === "large" && c.kind !== "cli";
          try {
            const copyIn = await measured(watchRss, () => c.copyIn(id, source, sandboxDir));
            const copyOut = await measured(watchRss, () =>
              c.copyOut(id, posix.join(sandboxDir, name), out),
            );
            if (round === -warmup[workload]) {
              const got = await describeCopy(join(out, name));
              if (got !== expected[workload]) {
                throw new Error(`copied out a ${got}, not the ${expected[workload]} copied in`);
              }
            }
            if (round >= 0) {
              const s = samples.get(c.name)![workload];
              s.in.push(copyIn.ms);
              s.out.push(copyOut.ms);
              if (watchRss) {
                const peak = rss.get(c.name) ?? { in: 0, out: 0 };
                rss.set(c.name, {
                  in: Math.max(peak.in, copyIn.rssGrowth),
                  out: Math.max(peak.out, copyOut.rssGrowth),
                });
              }
            }
          } catch (error) {
            fail(c, error);
          } finally {
            await rm(join(out, name), { recursive: true, force: true });
            await c.remove(id, posix.join(sandboxDir, name)).catch((e: unknown) => fail(c, e));
          }
        }
      }
    }

    for (const c of contenders) {
      const s = samples.get(c.name)!;
      const r = results[c.name]!;
      for (const workload of filesWorkloads) {
        r[workload] = { in: summarize(s[workload].in), out: summarize(s[workload].out) };
      }
      const peak = rss.get(c.name);
      if (r.rssGrowthBytes && peak) r.rssGrowthBytes = peak;
    }
    return {
      sizes: {
        smallBytes,
        largeBytes: settings.largeBytes,
        treeFiles: settings.treeFiles,
        treeBytes,
      },
      rounds,
      note: note ?? null,
      contenders: results,
      ratios: filesRatios(results),
    };
  } finally {
    for (const c of contenders) {
      const id = sandboxes.get(c.name);
      if (id) await c.sandbox.destroy(id).catch(() => {});
    }
    await rm(host, { recursive: true, force: true });
  }
}

export function describeWorkload(workload: FilesWorkloadName, settings: FilesSettings): string {
  if (workload === "small") return "a 1 MiB file";
  if (workload === "large") return `a ${formatSize(settings.largeBytes)} file`;
  return `a tree of ${settings.treeFiles.toLocaleString("en-US")} small files`;
}

/** "100 MiB", "1.5 GiB", "512 KiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

/**
 * `fn`'s time, and, when asked, how far this process's RSS rose above where it was before, at
 * its highest (sampled every few milliseconds while `fn` runs).
 */
async function measured(
  watchRss: boolean,
  fn: () => Promise<void>,
): Promise<{ ms: number; rssGrowth: number }> {
  if (!watchRss) return { ms: await timed(fn), rssGrowth: 0 };
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, rssSampleMs);
  try {
    const ms = await timed(fn);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { ms, rssGrowth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

function filesRatios(results: Record<string, FilesContenderResult>): FilesResult["ratios"] {
  const all = Object.values(results);
  const by = (kind: FilesContenderResult["kind"]) => all.find((r) => r.kind === kind);
  const ours = by("ours");
  const ratios = {} as FilesResult["ratios"];
  for (const workload of filesWorkloads) {
    for (const dir of ["in", "out"] as const) {
      for (const [kind, suffix] of [
        ["api", "Api"],
        ["cli", "Cli"],
      ] as const) {
        const a = ours?.[workload][dir];
        const b = by(kind)?.[workload][dir];
        const key = `${workload}${dir === "in" ? "In" : "Out"}Vs${suffix}` as const;
        ratios[key] = a && b && b.p50 > 0 ? Math.round((a.p50 / b.p50) * 1000) / 1000 : null;
      }
    }
  }
  return ratios;
}

/** A file of random bytes (written a MiB at a time). */
async function randomFile(path: string, bytes: number): Promise<string> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 2 ** 20) {
    if (!out.write(randomBytes(Math.min(left, 2 ** 20)))) {
      await once(out, "drain");
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.once("error", reject);
    out.end(() => resolve());
  });
  return path;
}

/** `count` files of 0.5 to 2 KiB in directories of 100, like a source tree; returns their bytes. */
async function randomTree(root: string, count: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const dir = join(root, `dir-${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    const size = 512 + ((i * 37) % 1537);
    await writeFile(join(dir, `file-${i}.txt`), randomBytes(size));
    total += size;
  }
  if (count === 0) await mkdir(root, { recursive: true });
  return total;
}

/** "file of N bytes" or "directory of N files": enough to tell a copy that went wrong. */
async function describeCopy(path: string): Promise<string> {
  const info = await lstat(path);
  if (info.isFile()) return `file of ${info.size} bytes`;
  let files = 0;
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else if (entry.isFile()) files++;
    }
  };
  if (info.isDirectory()) await walk(path);
  return info.isDirectory() ? `directory of ${files} files` : "link";
}
