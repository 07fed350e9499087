import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package's proto/containerd directory. Found by walking up from this module, because the
 * sources (src/containerd/) and the bundle (dist/) sit at different depths.
 */
export function protoDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "proto", "containerd");
    if (existsSync(join(candidate, "tasks.proto"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("proto/containerd not found next to @cadre/agent-runtime-provider-kata");
}

export const protoFiles = [
  "version.proto",
  "containers.proto",
  "images.proto",
  "content.proto",
  "snapshots.proto",
  "diff.proto",
  "leases.proto",
  "tasks.proto",
] as const;
