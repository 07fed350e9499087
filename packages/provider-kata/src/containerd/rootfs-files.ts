import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Mount } from "./messages.js";

/** The host directories of a snapshot's layers, topmost first (overlay or bind mounts). */
function layerDirectories(mounts: Mount[]): string[] {
  const dirs: string[] = [];
  for (const mount of mounts) {
    if (mount.type === "bind") {
      dirs.push(mount.source);
      continue;
    }
    if (mount.type !== "overlay") continue;
    const option = (name: string) =>
      mount.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
    const upper = option("upperdir");
    if (upper) dirs.push(upper);
    dirs.push(...(option("lowerdir")?.split(":") ?? []));
  }
  return dirs;
}

/**
 * Reads a small file of the image (e.g. etc/passwd) from the snapshotter's layer directories on
 * this host, without mounting. Undefined when the file is absent or the layers are not local.
 */
export async function readRootfsFile(
  mounts: Mount[],
  relativePath: string,
): Promise<string | undefined> {
  for (const dir of layerDirectories(mounts)) {
    try {
      return await readFile(join(dir, relativePath), "utf8");
    } catch {
      // Not in this layer: look further down.
    }
  }
  return undefined;
}
