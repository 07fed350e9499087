import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DoctorCheck, type DoctorReport, doctorReport } from "@cadre/agent-runtime-contract";
import { settlesWithin } from "@cadre/agent-runtime-provider-utils";
import {
  AgentLink,
  AgentRefusedError,
  agentBinaryFit,
  agentBinaryPath,
} from "@cadre/agent-runtime-sandbox-agent";
import { stubProviderId } from "./capabilities.js";

export async function stateDirCheck(stateDir: string): Promise<DoctorCheck> {
  const probe = join(stateDir, `.doctor-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(probe, "");
    await rm(probe, { force: true });
    return {
      id: "stub.state-dir",
      title: "State directory is writable",
      ok: true,
      required: true,
      detail: `${stateDir} holds one directory per session.`,
    };
  } catch (error) {
    return {
      id: "stub.state-dir",
      title: "State directory is writable",
      ok: false,
      required: true,
      detail: `${stateDir} is not writable: ${(error as Error).message}`,
      fix: "Pass createStubProvider({ stateDir }) a directory this user can write, or set XDG_STATE_HOME.",
    };
  }
}

/**
 * The cadre-agent binary that runs every command: there and built for this host (one installed
 * without its exec bit is run from an executable copy: agentBinaryPath).
 */
export function agentBinaryCheck(): DoctorCheck {
  const binary = agentBinaryPath();
  const fit = binary === undefined ? undefined : agentBinaryFit(binary);
  const check: DoctorCheck = {
    id: "stub.agent",
    title: "cadre-agent binary for this host (runs every command)",
    ok: fit?.fits === true,
    required: true,
    detail: fit ? fit.detail : `none for ${process.arch} in @cadre/agent-runtime-sandbox-agent`,
  };
  if (!check.ok) {
    check.fix =
      "build @cadre/agent-runtime-sandbox-agent (needs Debian's musl-tools, and musl-dev of the other architecture it ships; scripts/services.sh up installs them)";
  }
  return check;
}

/** Whether cadre-agent runs here as a plain process: it needs a kernel with child subreapers. */
export function subreaperCheck(ok: boolean, detail: string): DoctorCheck {
  const check: DoctorCheck = {
    id: "stub.subreaper",
    title: "cadre-agent runs as a plain process (child subreaper)",
    ok,
    required: true,
    detail,
  };
  if (!ok) {
    check.fix =
      "Run the stub on a Linux kernel with PR_SET_CHILD_SUBREAPER (3.4 and later; not gVisor or qemu-user), or use the docker or kata provider, where the agent is PID 1.";
  }
  return check;
}

/**
 * Starts the agent once without a socket, over its stdio, and ends it: it greets, or it refuses
 * to run (a kernel without child subreapers, where no kill of a command's tree could be verified).
 */
async function subreaperProbe(binary: string): Promise<DoctorCheck> {
  const child = spawn(binary, [], { stdio: ["pipe", "pipe", "ignore"] });
  const exited = once(child, "exit").catch(() => undefined);
  child.on("error", () => {
    // reported through the link below
  });
  try {
    const link = await AgentLink.open(child.stdout, child.stdin, 10_000);
    link.close();
    return subreaperCheck(
      true,
      "Each command runs under a supervisor of its own that keeps every process it starts (setsid, double forks, env -i included) below it, so a deadline or abort kills them all.",
    );
  } catch (error) {
    if (error instanceof AgentRefusedError && error.reason === "subreaper") {
      return subreaperCheck(false, error.detail);
    }
    return subreaperCheck(false, `cadre-agent did not start: ${(error as Error).message}`);
  } finally {
    // Its stdin closed, an agent without a socket stops.
    child.stdin.destroy();
    child.stdout.destroy();
    if (!(await settlesWithin(exited, 5_000))) child.kill("SIGKILL");
    await exited;
  }
}

const isolationCheck: DoctorCheck = {
  id: "stub.isolation",
  title: "Isolation",
  ok: false,
  required: false,
  detail:
    "None: commands run as host processes with this user's rights, files and network. For tests only.",
  fix: "Use the docker or kata provider for commands you do not trust.",
};

export async function stubDoctor(stateDir: string): Promise<DoctorReport> {
  const agent = agentBinaryCheck();
  const binary = agentBinaryPath();
  const subreaper =
    agent.ok && binary
      ? await subreaperProbe(binary)
      : subreaperCheck(false, "not checked: there is no cadre-agent binary for this host");
  const checks = [await stateDirCheck(stateDir), agent, subreaper, isolationCheck];
  return doctorReport(stubProviderId, checks);
}
