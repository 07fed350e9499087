import { randomUUID } from "node:crypto";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { within } from "./bounded.js";
import { type Census, censusTotal } from "./census.js";
import { errorCode, errorMessage, WrongResultError } from "./error-code.js";
import { openFdCount, type ProcessSample, sampleProcess } from "./process-meter.js";
import type { Target } from "./targets.js";

export interface SoakOptions {
  target: Target;
  /** Sessions run one after the other. */
  sessions: number;
  /** Sessions run at once, after the sequential ones. */
  concurrency: number;
  /** Bound of every single call; a call past it counts as an error (NO_ANSWER). */
  callTimeoutMs?: number;
  /** Open descriptors the process may gain (sockets of a connection pool). */
  fdSlack?: number;
  /** Heap the process may gain over the run, after full collections. */
  heapSlackBytes?: number;
  /** Progress lines, for a human watching. */
  log?: (line: string) => void;
}

export interface SoakErrorSample {
  phase: string;
  step: string;
  code: string;
  message: string;
}

export interface SoakReport {
  target: string;
  provider: string;
  /** Sessions started, run and destroyed (sequential + concurrent). */
  sessions: number;
  sequential: number;
  concurrency: number;
  /** Failed steps: a rejected call, a wrong exec result, a hang. */
  errors: number;
  errorsByCode: Record<string, number>;
  errorSamples: SoakErrorSample[];
  /** Everything left behind: backend objects of this run, descriptors beyond the slack, heap growth beyond the slack (1). */
  leaked: number;
  /** backendObjects (what the provider's backend hooks find), fds, heap. */
  leaks: Record<string, number>;
  process: {
    before: ProcessSample;
    after: ProcessSample;
    fdGrowth: number;
    fdSlack: number;
    heapGrowthBytes: number | null;
    heapSlackBytes: number;
    heapMeasured: boolean;
  };
  durationMs: number;
  runLabel: Record<string, string>;
}

const maxSamples = 20;

/**
 * Starts a session, runs one command in it and destroys it, `sessions` times in a row and then
 * `concurrency` times at once; then counts what the backend still holds for this run and what
 * this process gained in descriptors and heap.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  const { target } = options;
  const callTimeoutMs = options.callTimeoutMs ?? 120_000;
  const fdSlack = options.fdSlack ?? 8;
  const heapSlackBytes = options.heapSlackBytes ?? 16 * 1024 * 1024;
  const log = options.log ?? (() => {});
  const runLabel = { "cadre.reliability/soak-run": randomUUID() };
  const errors: SoakErrorSample[] = [];
  const byCode: Record<string, number> = {};
  let errorCount = 0;
  const fail = (phase: string, step: string, error: unknown) => {
    const code = errorCode(error);
    errorCount++;
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (errors.length < maxSamples)
      errors.push({ phase, step, code, message: errorMessage(error) });
  };

  const provider = target.createProvider();
  const cycle = (phase: string) =>
    oneSession(provider, target, runLabel, phase, callTimeoutMs, fail);

  // Warm-up: connections, lazy imports and caches exist before the first measurement.
  for (let i = 0; i < 2; i++) await cycle("warm-up");
  const before = sampleProcess();

  log(`${target.name}: ${options.sessions} sessions in sequence`);
  for (let i = 0; i < options.sessions; i++) {
    await cycle("sequential");
    if ((i + 1) % 100 === 0) log(`  ${i + 1}/${options.sessions} (errors so far: ${errorCount})`);
  }
  log(`${target.name}: ${options.concurrency} sessions at once`);
  await Promise.all(Array.from({ length: options.concurrency }, () => cycle("concurrent")));

  const after = await settledSample(before.fds);
  const backend = await target.census(runLabel);
  await removeLeftovers(provider, runLabel);
  await provider.close?.();

  const fdGrowth = after.fds - before.fds;
  const heapMeasured = before.heapBytes !== undefined && after.heapBytes !== undefined;
  const heapGrowthBytes = heapMeasured
    ? (after.heapBytes as number) - (before.heapBytes as number)
    : null;
  const leaks: Census = {
    ...backend,
    fds: Math.max(0, fdGrowth - fdSlack),
    heap: heapGrowthBytes !== null && heapGrowthBytes > heapSlackBytes ? 1 : 0,
  };
  return {
    target: target.name,
    provider: target.providerId,
    sessions: options.sessions + options.concurrency,
    sequential: options.sessions,
    concurrency: options.concurrency,
    errors: errorCount,
    errorsByCode: byCode,
    errorSamples: errors,
    leaked: censusTotal(leaks),
    leaks,
    process: {
      before,
      after,
      fdGrowth,
      fdSlack,
      heapGrowthBytes,
      heapSlackBytes,
      heapMeasured,
    },
    durationMs: Math.round(performance.now() - started),
    runLabel,
  };
}

/**
 * The process sample after the run. Idle keep-alive sockets of node's HTTP agent (the Docker
 * client's) close 5 s after their last use; no event says when, so the descriptor count is
 * sampled until it is back to where it started or 15 s have passed. A real leak stays.
 */
async function settledSample(fdLimit: number): Promise<ProcessSample> {
  const deadline = Date.now() + 15_000;
  while (openFdCount() > fdLimit && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return sampleProcess();
}

async function oneSession(
  provider: IsolationProvider,
  target: Target,
  runLabel: Record<string, string>,
  phase: string,
  callTimeoutMs: number,
  fail: (phase: string, step: string, error: unknown) => void,
): Promise<void> {
  let id: string | undefined;
  try {
    id = await within(
      provider.startSession({ ...target.basePolicy, labels: runLabel }),
      callTimeoutMs,
      "startSession",
    );
  } catch (error) {
    fail(phase, "startSession", error);
    return;
  }
  try {
    const result = await within(
      provider.exec(id, ["sh", "-c", 'echo "ok $0"', id]),
      callTimeoutMs,
      "exec",
    );
    if (result.exitCode !== 0 || result.stdout !== `ok ${id}\n`) {
      fail(
        phase,
        "exec",
        new WrongResultError(
          `unexpected result: exit ${result.exitCode}, stdout ${JSON.stringify(result.stdout)}`,
        ),
      );
    }
  } catch (error) {
    fail(phase, "exec", error);
  }
  try {
    await within(provider.destroySession(id), callTimeoutMs, "destroySession");
  } catch (error) {
    fail(phase, "destroySession", error);
  }
}

/** After the count: whatever this run left is removed, so that a failed soak leaves nothing. */
async function removeLeftovers(provider: IsolationProvider, runLabel: Record<string, string>) {
  try {
    const left = await provider.listSessions({ labels: runLabel });
    await Promise.allSettled(left.map((s) => provider.destroySession(s.id)));
    // And how they ended: a soak's thousand records are of no use to a later caller.
    await provider.reap({ labels: runLabel, endedOlderThanMs: 0 });
  } catch {
    // The count above already reported them.
  }
}
