import { setTimeout as delay } from "node:timers/promises";
import { createProvider, providerIds } from "@cadre/agent-runtime";
import {
  AgentRuntimeError,
  type IsolationProvider,
  type SessionStats,
  statsLimits,
} from "@cadre/agent-runtime-contract";
import { describeError, progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { configFromFlags, defaultConfigFor, providerFlagSpec } from "./provider-choice.js";
import { providerOfSession } from "./session-provider.js";
import { formatTable } from "./table.js";
import { parseDuration, parsePositiveNumber } from "./units.js";
import { UsageError } from "./usage-error.js";

export const topFlagSpec = {
  ...providerFlagSpec,
  interval: { type: "string" },
  count: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "sessions top";

/** One session's reading, with its CPU use since the reading before (from the second on). */
export interface TopRow {
  providerId: string;
  stats: SessionStats;
  /** CPU time over wall time since the last reading, in percent of one core. */
  cpuPercent?: number;
}

/** The sessions whose usage is shown, and where each is read. */
interface Watched {
  providers: IsolationProvider[];
  /** Fixed ids (given on the command line), or undefined for every running session. */
  ids?: Map<string, IsolationProvider>;
}

/**
 * `sessions top`: what each running session uses, as its provider reads it from the host
 * (sessionStats: CPU, memory and its peak against the limit, processes, disk), again every
 * interval until Ctrl-C or --count readings. On a terminal the table is redrawn in place; into a
 * pipe each reading is appended (with --json, one line of JSON each).
 */
export async function sessionsTop(args: string[], help: () => Promise<string>): Promise<number> {
  const { values, positionals } = parseFlags(args, topFlagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await help()}\n`);
    return 0;
  }
  const intervalMs =
    values.interval === undefined
      ? statsLimits.defaultIntervalMs
      : parseDuration(values.interval, "--interval", cmd);
  if (intervalMs < statsLimits.minIntervalMs || intervalMs > statsLimits.maxIntervalMs) {
    throw new UsageError(
      `--interval must be between ${statsLimits.minIntervalMs}ms and 1h, not "${values.interval}"`,
      cmd,
    );
  }
  const count =
    values.count === undefined
      ? undefined
      : parsePositiveNumber(values.count, "--count", cmd, true);

  const watched = await watchedSessions(positionals, values);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const redraw = process.stdout.isTTY === true && !values.json;
  try {
    let previous = new Map<string, TopRow>();
    for (let reading = 1; ; reading++) {
      const rows = await readAll(watched, previous);
      if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else process.stdout.write(`${redraw ? "\x1b[H\x1b[2J" : ""}${formatTop(rows)}`);
      previous = new Map(rows.map((row) => [row.stats.sessionId, row]));
      if (watched.ids && rows.length === 0) {
        progress("the sessions asked for have ended");
        return 1;
      }
      if (count !== undefined && reading >= count) return 0;
      if (!(await pause(intervalMs, stop.signal))) return 0;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await Promise.all(watched.providers.map((p) => p.close?.()));
  }
}

async function watchedSessions(
  ids: string[],
  flags: Parameters<typeof configFromFlags>[0],
): Promise<Watched> {
  if (ids.length > 0) {
    const byId = new Map<string, IsolationProvider>();
    const providers: IsolationProvider[] = [];
    try {
      for (const id of ids) {
        const provider = await providerOfSession(id, flags, cmd);
        providers.push(provider);
        byId.set(id, provider);
      }
    } catch (error) {
      await Promise.all(providers.map((p) => p.close?.()));
      throw error;
    }
    for (const provider of providers) requireUsage(provider);
    return { providers, ids: byId };
  }
  const chosen = await configFromFlags(flags, cmd);
  if (chosen) {
    const provider = await createProvider(chosen);
    requireUsage(provider);
    return { providers: [provider] };
  }
  const providers: IsolationProvider[] = [];
  for (const providerId of providerIds()) {
    const provider = await createProvider(await defaultConfigFor(providerId)).catch(
      () => undefined,
    );
    if (provider?.sessionStats) providers.push(provider);
    else await provider?.close?.();
  }
  return { providers };
}

function requireUsage(provider: IsolationProvider): void {
  if (!provider.sessionStats) {
    throw new UsageError(`provider ${provider.id} does not report what its sessions use`, cmd);
  }
}

/** One reading of every watched session; a session that ended meanwhile drops out. */
async function readAll(watched: Watched, previous: Map<string, TopRow>): Promise<TopRow[]> {
  const targets: Array<[string, IsolationProvider]> = watched.ids
    ? [...watched.ids]
    : (
        await Promise.all(
          watched.providers.map(async (provider) =>
            (
              await provider.listSessions().catch(() => [])
            )
              .filter((s) => s.state === "running")
              .map((s): [string, IsolationProvider] => [s.id, provider]),
          ),
        )
      ).flat();
  const rows = await Promise.all(
    targets.map(async ([id, provider]) => {
      try {
        const stats = await provider.sessionStats!(id);
        return rowOf(provider.id, stats, previous.get(id));
      } catch (error) {
        const gone =
          AgentRuntimeError.isInstance(error) &&
          (error.code === "SESSION_NOT_FOUND" || error.code === "SESSION_NOT_RUNNING");
        if (!gone) progress(`${id}: ${describeError(error).split("\n")[0]}`);
        watched.ids?.delete(id);
        return undefined;
      }
    }),
  );
  return rows.filter((row) => row !== undefined);
}

export function rowOf(providerId: string, stats: SessionStats, before?: TopRow): TopRow {
  const row: TopRow = { providerId, stats };
  const wallSeconds = before ? (Date.parse(stats.at) - Date.parse(before.stats.at)) / 1000 : 0;
  const cpu = stats.cpuSeconds;
  const cpuBefore = before?.stats.cpuSeconds;
  if (wallSeconds > 0 && cpu !== undefined && cpuBefore !== undefined && cpu >= cpuBefore) {
    row.cpuPercent = ((cpu - cpuBefore) / wallSeconds) * 100;
  }
  return row;
}

/** The table a reading prints: one line per session, "-" where the provider cannot tell. */
export function formatTop(rows: TopRow[]): string {
  if (rows.length === 0) return "no running sessions\n";
  const table = [
    ["ID", "PROVIDER", "CPU%", "CPU TIME", "MEMORY", "PEAK", "LIMIT", "PIDS", "DISK"],
    ...rows.map(({ providerId, stats, cpuPercent }) => [
      stats.sessionId,
      providerId,
      cpuPercent === undefined ? "-" : cpuPercent.toFixed(1),
      stats.cpuSeconds === undefined ? "-" : `${stats.cpuSeconds.toFixed(2)}s`,
      bytes(stats.memoryBytes),
      bytes(stats.peakMemoryBytes),
      bytes(stats.memoryLimitBytes),
      stats.pids === undefined
        ? "-"
        : `${stats.pids}${stats.pidsLimit === undefined ? "" : `/${stats.pidsLimit}`}`,
      bytes(stats.diskBytes),
    ]),
  ];
  return formatTable(table, (column) => column >= 2);
}

function bytes(value: number | undefined): string {
  if (value === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = value;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n}B` : `${n.toFixed(1)}${units[unit]}`;
}

/** Waits `ms`; false when the signal ended the wait (Ctrl-C). */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return delay(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );
}
