import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Contender } from "@cadre/agent-runtime-provider-utils";

/** A plain host process (and a scratch directory) as a sandbox: the stub's baseline. */
export function hostSpawnContender(): Contender {
  const spawnTrue = (cwd?: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn("true", [], { cwd, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.resume();
      child.stderr.resume();
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0 ? resolve() : reject(new Error(`true exited ${code}`)),
      );
    });
  return {
    name: "host spawn",
    kind: "api",
    lifecycle: {
      start: () => mkdtemp(join(tmpdir(), "cadre-bench-")),
      destroy: (dir) => rm(dir, { recursive: true, force: true }),
    },
    firstExec: (dir) => spawnTrue(dir),
    exec: {
      async setup() {},
      run: () => spawnTrue(),
      async teardown() {},
    },
  };
}
