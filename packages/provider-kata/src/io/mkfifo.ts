import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Creates named pipes. Node has no mkfifo(2) binding, so this runs coreutils' mkfifo; FifoReserve
 * calls it once per batch of pipes, which saves the fork on most execs without a native addon.
 */
export async function mkfifo(paths: string[], mode = 0o600): Promise<void> {
  if (paths.length === 0) return;
  try {
    await run("mkfifo", ["-m", mode.toString(8), "--", ...paths]);
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`mkfifo failed: ${stderr || String(error)}`, { cause: error });
  }
}
