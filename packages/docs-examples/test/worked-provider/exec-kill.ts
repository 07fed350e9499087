import { readFile } from "node:fs/promises";
import { type ExecKillReport, execKillGraceMs } from "@cadre/agent-runtime-contract";
import {
  settlesWithin,
  treeKillArgv,
  treeKillCleanLine,
} from "@cadre/agent-runtime-provider-utils";
import type { ExecTarget } from "./docker-exec.js";

/** The in-sandbox killer runs on the tenant's /bin/sh: past this it counts as failed. */
const killerLimitMs = 2500;
/** How long the exec's output may stay open once the killer said it is done. */
const drainMs = 1000;
const killerMethod = "exec tag, descendants and orphans, killed from inside the sandbox";
const hostMethod =
  "every process of the session but its init and main process, frozen and killed from the host";

/**
 * Kills every process of one exec within the contract's grace. First precisely, from inside the
 * sandbox (treeKillArgv: by tag, ancestry and orphans). When that does not verify it is done (a
 * replaced /bin/sh, no pid free) or the output stays open, from the host, where the tenant
 * controls nothing: the container is frozen, so nothing forks meanwhile, and every process but
 * Docker's init and the session's main process is killed. That ends the session's other commands
 * too, but never the session, and its files stay.
 */
export async function killExecTree(
  target: ExecTarget,
  tag: string,
  startedAtMs: number,
  outputEnded: Promise<void>,
): Promise<ExecKillReport> {
  const argv = treeKillArgv(tag, { orphansSince: startedAtMs, pid1IsInit: true });
  if ((await runKiller(target, argv)) && (await settlesWithin(outputEnded, drainMs))) {
    return { complete: true, method: killerMethod };
  }
  const survivors = await killAllButMain(target).catch(() => undefined);
  const report: ExecKillReport = {
    complete: survivors === 0,
    method: `${killerMethod}; it could not make sure, so ${hostMethod}`,
  };
  if (survivors) report.survivors = survivors;
  return report;
}

/** Whether the in-sandbox killer ended by saying it verified that nothing of the exec is left. */
async function runKiller(target: ExecTarget, argv: string[]): Promise<boolean> {
  let stream: NodeJS.ReadableStream | undefined;
  const work = (async () => {
    const exec = await target.api.docker
      .getContainer(target.containerId)
      .exec({ Cmd: argv, AttachStdout: true, AttachStderr: true, Tty: false });
    stream = await exec.start({ Detach: false, Tty: false });
    let said = "";
    await target.api.demultiplex(stream, (name, chunk) => {
      // Only the last words count, and a killer that talks forever is cut off by the limit.
      if (name === "stdout") said = (said + chunk.toString("utf8")).slice(-200);
    });
    const { ExitCode } = await exec.inspect();
    return ExitCode === 0 && said.trimEnd().split("\n").at(-1) === treeKillCleanLine;
  })();
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), killerLimitMs);
  });
  try {
    return await Promise.race([work.catch(() => false), timeUp]);
  } finally {
    clearTimeout(timer);
    (stream as { destroy?: () => void } | undefined)?.destroy?.();
  }
}

/** Kills every process of the session but its init and main process; resolves with survivors. */
async function killAllButMain(target: ExecTarget): Promise<number> {
  const container = target.api.docker.getContainer(target.containerId);
  const deadline = performance.now() + execKillGraceMs - killerLimitMs - drainMs - 2000;
  await container.pause();
  let victims: Array<{ pid: number; start: string }> = [];
  try {
    const init = (await container.inspect()).State.Pid;
    const top = (await container.top({ ps_args: "-eo pid,ppid" })) as {
      Titles: string[];
      Processes: string[][];
    };
    const column = (title: string) => top.Titles.indexOf(title);
    const processes = [];
    for (const row of top.Processes) {
      const pid = Number(row[column("PID")]);
      const start = await startTime(pid);
      if (start !== undefined) processes.push({ pid, ppid: Number(row[column("PPID")]), start });
    }
    // The main process is init's first child: the one that started first.
    const main = processes
      .filter((p) => p.ppid === init)
      .sort((a, b) => Number(a.start) - Number(b.start) || a.pid - b.pid)[0]?.pid;
    victims = processes.filter((p) => p.pid !== init && p.pid !== main);
    for (const victim of victims) {
      try {
        process.kill(victim.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  } finally {
    await container.unpause();
  }
  // A killed process is gone once it is no longer there, or a zombie, or its pid is another's.
  while (performance.now() < deadline) {
    const alive = [];
    for (const victim of victims) {
      if ((await startTime(victim.pid)) === victim.start) alive.push(victim);
    }
    victims = alive;
    if (victims.length === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return victims.length;
}

/** The start time of a live process (field 22 of /proc/<pid>/stat), undefined once it is dead. */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  if (fields.length < 20 || fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}
