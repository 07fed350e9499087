import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { agentBinaryPath } from "../src/agent-binary.js";
import { AgentLink } from "../src/agent-link.js";

export const hostEnv = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

/** The agent built for this machine; the package's build makes it (scripts/build-agent.sh). */
export function binary(): string {
  const path = agentBinaryPath();
  if (!path) throw new Error("no cadre-agent binary for this machine: run the package's build");
  return path;
}

export interface RunningAgent {
  child: ChildProcess;
  link: AgentLink;
  stop(): Promise<void>;
}

/** Starts the agent as a plain host process (a subreaper, not PID 1) and opens its link. */
export async function startAgent(): Promise<RunningAgent> {
  const child = spawn(binary(), [], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(child, "exit");
  const link = await AgentLink.open(child.stdout!, child.stdin!);
  return {
    child,
    link,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      link.close();
    },
  };
}

/** Pids of live processes whose command line holds `marker`: what a test's commands left. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(") ") + 2, stat.lastIndexOf(") ") + 3);
      if (state === "Z" || state === "X") continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker))
        found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
