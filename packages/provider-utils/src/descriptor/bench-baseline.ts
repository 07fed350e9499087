import type {
  IsolationLevel,
  IsolationPolicy,
  IsolationProvider,
} from "@cadre/agent-runtime-contract";

// What `cadre-runtime bench` and a provider's bench baseline say to each other. Types only: the
// bench's code (its phases, its timing, its tools) stays in @cadre/agent-runtime-cli, and a
// provider's baseline module is a chunk of its own package that only the bench loads.

/** What a descriptor's `benchBaseline` gets from `cadre-runtime bench`. */
export interface BenchBaselineInput<Options = Record<string, unknown>> {
  /**
   * The provider under test, made from `options`. A baseline may start one session of it to
   * copy what the provider makes (its image, its spec), so that the bare sandboxes match.
   */
  provider: IsolationProvider;
  /** The policy of the bench's sessions; a session the baseline starts uses it too. */
  policy: IsolationPolicy;
  /** The provider's options, as its section of the config gave them. */
  options: Options;
  /** This run's id, for the names of what the baselines make. */
  runId: string;
  /** Labels every sandbox a baseline makes must carry: `cleanup()` finds leftovers by them. */
  labels: Readonly<Record<string, string>>;
  /** The bench's own tools, so that every engine is measured the same way. */
  tools: BenchTools;
}

/**
 * What the bench lends every baseline, so that each provider does not keep its own copy: one
 * way to run a CLI, to read a bare client's output through pipes, to spawn a host process, to
 * read a sandbox's memory, and one set of targets per isolation level.
 */
export interface BenchTools {
  /** Runs an engine's CLI; resolves with its trimmed stdout, rejects with its stderr. */
  runCli(file: string, args: readonly string[]): Promise<string>;
  /** Named pipes for a bare client's exec output, made outside the timed part. */
  premadeFifos(): Promise<PremadeFifos>;
  /** A bare host process (`true`) and a scratch directory as a sandbox: what the stub wraps. */
  hostProcessContender(): Contender;
  /**
   * A contender of every phase: it starts and destroys its own sandboxes (each timed), and
   * `runTrue` is both its first command in a fresh sandbox and its exec phase's command.
   */
  sandboxContender(contender: {
    name: string;
    kind: Contender["kind"];
    sandbox: SandboxLifecycle;
    runTrue: (id: string) => Promise<void>;
  }): Contender;
  /** A contender's exec phase: `run` in one sandbox started in setup and removed in teardown. */
  execInOneSandbox(
    sandbox: SandboxLifecycle,
    run: (id: string) => Promise<void>,
  ): NonNullable<Contender["exec"]>;
  /** Host memory of idle sandboxes, given the host pid of each one's first process. */
  sandboxMemory(pids: readonly number[]): Promise<IdleMemory>;
  /** The agent's targets for an engine whose provider reports this isolation level. */
  engineTargets(isolation: IsolationLevel): EngineTargets;
  /**
   * A tar stream of the host file or directory `path`, its top entry named `top`: the archive
   * `cadre-runtime cp` sends, so that a copy baseline sends the same bytes.
   */
  packLocal(path: string, top: string): AsyncIterable<Uint8Array>;
  /**
   * Extracts a tar stream that came out of a sandbox into the host directory `dir` as
   * `cadre-runtime cp` does (its top entry becomes `dir`/`name`; hostile entries refused), so
   * that a copy baseline does the same work on the host as ours.
   */
  extractToLocal(tar: AsyncIterable<Uint8Array>, dir: string, name: string): Promise<void>;
  /**
   * The error to throw when these options cannot be benchmarked (e.g. a remote engine): the
   * bench reports it as a usage error, with the message as the fix.
   */
  usageError(message: string): Error;
}

/** The engine side of a benchmark: its bare baselines and how to find and remove what it made. */
export interface BenchEngine {
  /** e.g. "docker (runc)": the name of the engine in the results and docs/performance.md. */
  label: string;
  /**
   * The bare ways of doing what the provider does, e.g. the engine's API and its CLI (kind "api"
   * and "cli"). The bench measures the provider itself beside them.
   */
  baselines: Contender[];
  /**
   * The targets for this engine (`tools.engineTargets`). Absent when the baselines are not
   * an engine's API and CLI (the stub's is a host process): its numbers and ratios are still
   * reported, with no mark.
   */
  targets?: EngineTargets;
  /** Host memory of idle sessions of the provider, by session id. Absent: not measured. */
  idleMemory?(sessionIds: string[]): Promise<IdleMemory>;
  /**
   * The same measure of idle sandboxes of the "api" baseline (ids from its lifecycle's start):
   * what a session was before cadre-agent. Absent: no baseline to compare with.
   */
  baselineIdleMemory?(sandboxIds: string[]): Promise<IdleMemory>;
  /**
   * The engine's own ways of copying files into and out of a sandbox (its archive API, kind
   * "api"; its CLI, kind "cli"), measured beside `cadre-runtime cp`. Absent when the engine has
   * none: `filesNote` says why, and only the provider's own copies are measured.
   */
  filesBaselines?: FilesContender[];
  /** Why there is no files baseline, or what to know about it, for the results. */
  filesNote?: string;
  /** Removes every object carrying the run's labels (sessions included); returns how many. */
  cleanup(): Promise<number>;
  close(): Promise<void>;
}

/** One way of doing the benchmarked operations: cadre's provider, the engine's API, its CLI. */
export interface Contender {
  /** Shown in the results, e.g. "cadre", "dockerode", "docker CLI". */
  name: string;
  kind: "ours" | "api" | "cli";
  /** Start and destroy one sandbox, each timed by the bench. */
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

/**
 * A way of copying files between the host and a sandbox, for the bench's files phase: a file or
 * a directory tree in, then the same back out, each timed; the other calls are its setup and
 * cleanup between rounds, never timed.
 */
export interface FilesContender {
  /** Shown in the results, e.g. "dockerode archive", "docker cp". */
  name: string;
  kind: "api" | "cli";
  /** The one sandbox the phase copies into and out of. */
  sandbox: SandboxLifecycle;
  /** Makes the empty directory `path` in the sandbox (setup). */
  makeDirectory(id: string, path: string): Promise<void>;
  /** Copies the host file or directory `from` into the sandbox directory `dir`, as `dir`/its name. */
  copyIn(id: string, from: string, dir: string): Promise<void>;
  /** Copies `path` out of the sandbox into the host directory `dir`, as `dir`/its name. */
  copyOut(id: string, path: string, dir: string): Promise<void>;
  /** Removes `path` and everything below it in the sandbox (cleanup between rounds). */
  remove(id: string, path: string): Promise<void>;
}

/** A sandbox's start and destroy, as a contender's lifecycle does them. */
export interface SandboxLifecycle {
  start(): Promise<string>;
  destroy(id: string): Promise<void>;
}

export interface IdleMemory {
  method: string;
  /** Mean bytes per idle session; null when not measurable here. */
  bytesPerSession: number | null;
  samples: number;
}

/**
 * Issue 13's targets for an engine whose baselines are that engine's own API and CLI, for the
 * exec path through cadre-agent. The bounds are the bench's (`tools.engineTargets`).
 */
export interface EngineTargets {
  /** The bare API's exec p50 divided by ours: at least this. */
  execSpeedupVsApi: number;
  /** Our exec p50, in ms: at most this. Absent: no absolute target on this engine. */
  execP50Ms?: number;
  /** Our exec p99 divided by our exec p50: at most this. */
  execTailRatio: number;
  /**
   * Time to first command, cold (startSession, then the first exec), p50: at most
   * `factor` times the bare API's create+start p50, plus `plusMs`.
   */
  coldFirstCommand: { factor: number; plusMs: number };
  /** Issue 14's files targets. Absent: none on this engine. */
  files?: FilesTargets;
}

/** Copies into and out of a sandbox, against the engine's own archive API. */
export interface FilesTargets {
  /** A 1 MiB file in, and out, p50 in ms: at most this. */
  smallFileP50Ms: number;
  /**
   * A large file and a tree of many small files, in and out: our p50 divided by the engine's
   * archive API's (its "api" files baseline), at most this.
   */
  versusArchiveApi: number;
}

/** Named pipes made ahead for a bare containerd client that captures an exec's output. */
export interface PremadeFifos {
  /** Makes as many pipes as it takes to have `count` unused ones; call it outside the timed part. */
  reserve(count: number): Promise<void>;
  /** Opens the read ends of two unused pipes, the stdout and stderr of one exec. */
  open(): Promise<FifoStdio>;
  /** Removes every pipe and their directory. */
  dispose(): Promise<void>;
}

/** stdout and stderr of one exec, as named pipes the shim opens and the client reads. */
export interface FifoStdio {
  paths: { stdin: ""; stdout: string; stderr: string };
  /** Resolves once the shim has closed both pipes (the exec's output ended). */
  ended: Promise<void>;
  close(): void;
}
