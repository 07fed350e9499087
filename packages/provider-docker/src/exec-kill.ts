import { type ExecKillReport, execKillGraceMs } from "@cadre/agent-runtime-contract";
import {
  settlesWithin,
  treeKillArgv,
  treeKillCleanLine,
} from "@cadre/agent-runtime-provider-utils";
import type { AttachedExec, ContainerRef, DockerClient, HelperOutcome } from "./docker-client.js";

/**
 * Time the kill may take after the deadline: the contract's grace, less a margin for building the
 * result on a loaded host. Within it: the killer, the output closing, and if need be a restart.
 */
const killBudgetMs = execKillGraceMs - 750;
/** The killer runs on the tenant's /bin/sh: past this it is taken as failed. */
const killerLimits = { timeoutMs: 2500, maxOutputBytes: 4096 };
/** How long the output may stay open after a clean kill before the session is restarted. */
const drainAfterKillMs = 1000;
/** After a restart, how long gVisor may keep a dead sandbox's output open before we close it. */
const drainAfterRestartMs = 500;

const killerMethod = "exec tag, descendants and orphans, killed from inside the sandbox";

/** Which exec to kill: the tag in its environment, and when it started (for its orphans). */
export interface ExecTag {
  marker: string;
  startedAtMs: number;
}

/**
 * Kills the exec's processes from inside the container (see treeKillArgv), within the kill
 * budget. When the killer cannot run, fails, is cut short or leaves something, or the output
 * stays open afterwards, restarts the session's container, which kills every process in it.
 * `complete` is true only when the killer said it verified nothing is left, or the restart
 * finished; past the budget the exec settles with `complete: false` and the restart goes on.
 */
export async function killExecTree(
  client: DockerClient,
  session: ContainerRef,
  tag: ExecTag,
  exec: AttachedExec,
): Promise<ExecKillReport> {
  const giveUpAt = performance.now() + killBudgetMs;
  const remaining = () => Math.max(0, giveUpAt - performance.now());
  const killer = await runKiller(client, session, tag, remaining());
  if (killer.clean && (await settlesWithin(exec.ended, Math.min(drainAfterKillMs, remaining())))) {
    return { complete: true, method: killerMethod };
  }
  const why = killer.clean ? "the output stayed open" : killer.failure;
  const restart = client.restartContainer(session).then(
    () => true,
    () => false,
  );
  const restarted = await settlesWithin(restart, remaining());
  if (restarted && (await restart)) {
    // gVisor may keep the output of a process in a dead sandbox open: nothing is left to read.
    if (!(await settlesWithin(exec.ended, Math.min(drainAfterRestartMs, remaining())))) {
      exec.closeOutput();
    }
    await exec.ended;
    return { complete: true, method: `${killerMethod}; ${why}, so the session was restarted` };
  }
  exec.closeOutput();
  await exec.ended;
  const report: ExecKillReport = {
    complete: false,
    method: `${killerMethod}; ${why}, and restarting the session ${restarted ? "failed" : "did not finish in time"}`,
  };
  if (killer.survivors !== undefined) report.survivors = killer.survivors;
  return report;
}

interface KillerOutcome {
  clean: boolean;
  /** Why it is not clean, for the report's method. */
  failure: string;
  survivors?: number;
}

async function runKiller(
  client: DockerClient,
  session: ContainerRef,
  tag: ExecTag,
  timeLeftMs: number,
): Promise<KillerOutcome> {
  let outcome: HelperOutcome;
  try {
    outcome = await client.runHelper(
      session,
      treeKillArgv(tag.marker, { orphansSince: tag.startedAtMs, pid1IsInit: true }),
      { ...killerLimits, timeoutMs: Math.min(killerLimits.timeoutMs, timeLeftMs) },
    );
  } catch {
    return { clean: false, failure: "the killer could not start" };
  }
  const last = outcome.stdout.trimEnd().split("\n").at(-1) ?? "";
  if (outcome.exitCode === 0 && !outcome.cutShort && last === treeKillCleanLine) {
    return { clean: true, failure: "" };
  }
  if (outcome.cutShort) return { clean: false, failure: "the killer was cut short" };
  const left = /^cadre-tree-kill: left (\d+)$/.exec(last);
  if (left)
    return { clean: false, failure: "processes survived the killer", survivors: Number(left[1]) };
  return { clean: false, failure: "the killer could not make sure" };
}
