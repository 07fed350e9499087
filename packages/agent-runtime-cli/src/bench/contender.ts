import type { EngineTargets } from "./target-checks.js";

/** One way of doing the benchmarked operations: cadre's provider, the engine's API, its CLI. */
export interface Contender {
  /** Shown in the results, e.g. "cadre", "dockerode", "docker CLI". */
  name: string;
  kind: "ours" | "api" | "cli";
  /** Start and destroy one sandbox, each timed by the runner. */
  lifecycle?: SandboxLifecycle;
  /**
   * Runs `true` in a sandbox that `lifecycle.start` just made, as its first command (time to
   * first command); rejects when it does not exit 0.
   */
  firstExec?(id: string): Promise<void>;
  /** Runs `true` in a sandbox made by setup(); rejects when it does not exit 0. */
  exec?: {
    setup(): Promise<void>;
    run(): Promise<void>;
    teardown(): Promise<void>;
  };
  /**
   * Called outside any timing before a phase that runs `execs` execs of this contender, so that
   * what a real client would have at hand (containerd's premade pipes) is never made inside a
   * timed sample.
   */
  prepare?(execs: number): Promise<void>;
}

/** A sandbox's start and destroy, as a contender's lifecycle does them. */
export interface SandboxLifecycle {
  start(): Promise<string>;
  destroy(id: string): Promise<void>;
}

/** The exec phase of a contender: `run` gets one sandbox made in setup and removed in teardown. */
export function execInOneSandbox(
  sandbox: SandboxLifecycle,
  run: (id: string) => Promise<void>,
): NonNullable<Contender["exec"]> {
  let id: string | undefined;
  return {
    async setup() {
      id = await sandbox.start();
    },
    run: () => run(id!),
    async teardown() {
      if (id) await sandbox.destroy(id);
      id = undefined;
    },
  };
}

/** The engine side of a benchmark: its contenders and how to find and remove what it made. */
export interface BenchEngine {
  /** e.g. "docker (runc)". */
  label: string;
  contenders: Contender[];
  /**
   * The targets for this engine (see target-checks.ts), chosen by the engine's own
   * module. Absent when the baselines are not an engine's API and CLI (the stub's is a host
   * process): its numbers and ratios are still reported, with no mark.
   */
  targets?: EngineTargets;
  /** Host memory of idle sessions of ours, by session id, with the method used. */
  idleMemory?(sessionIds: string[]): Promise<IdleMemory>;
  /**
   * The same measure of idle sandboxes of the "api" contender (ids from its lifecycle's start):
   * what a session was before cadre-agent. Absent: no baseline to compare with.
   */
  baselineIdleMemory?(sandboxIds: string[]): Promise<IdleMemory>;
  /** Removes every object carrying the run label (baselines included); returns how many. */
  cleanup(): Promise<number>;
  close(): Promise<void>;
}

export interface IdleMemory {
  method: string;
  /** Mean bytes per idle session; null when not measurable here. */
  bytesPerSession: number | null;
  samples: number;
}
