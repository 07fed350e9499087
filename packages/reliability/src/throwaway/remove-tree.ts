import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Removes a throwaway engine's directory. Mounts an engine left under it (a snapshot of a task
 * killed with its daemon) are detached first, deepest first, so rm never walks into a mount.
 */
export async function removeTree(dir: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target === dir || target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) await run("umount", ["-l", target]).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
