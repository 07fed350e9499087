import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DoctorCheck, type DoctorReport, doctorReport } from "@cadre/agent-runtime-contract";
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

async function processScanCheck(): Promise<DoctorCheck> {
  const base = {
    id: "stub.process-scan",
    title: "Escaped processes can be found through /proc",
    required: false,
  };
  try {
    await readdir("/proc");
    await readFile(`/proc/${process.pid}/environ`);
    return {
      ...base,
      ok: true,
      detail: "Timeouts, aborts and stopSession kill descendants that left the process group too.",
    };
  } catch {
    return {
      ...base,
      ok: false,
      detail:
        "No readable /proc: only the command's process group is killed, a descendant that called setsid survives.",
      fix: "Run on Linux with procfs mounted, or use a container provider.",
    };
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
  const checks = [await stateDirCheck(stateDir), await processScanCheck(), isolationCheck];
  return doctorReport(stubProviderId, checks);
}
