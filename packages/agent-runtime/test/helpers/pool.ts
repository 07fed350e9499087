import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { createStubProvider, type StubProvider } from "@cadre/agent-runtime-provider-stub";
import { afterEach } from "vitest";
import { SessionPool, type SessionPoolOptions } from "../../src/index.js";

/**
 * A fresh stub state directory per test, pools over it, and a second stub instance on the same
 * directory that reads the "backend" independently of the pool. Everything is destroyed after
 * each test.
 */
export function usePools() {
  const pools: SessionPool[] = [];
  let stateDir: string | undefined;
  let observer: StubProvider | undefined;

  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.close();
    if (observer) {
      for (const s of await observer.listSessions()) await observer.destroySession(s.id);
      await observer.close();
      observer = undefined;
    }
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    stateDir = undefined;
  });

  const dir = async () => {
    stateDir ??= await mkdtemp(join(tmpdir(), "cadre-pool-test-"));
    return stateDir;
  };

  return {
    stateDir: dir,
    async pool(
      options: SessionPoolOptions = {},
      wrap: (p: IsolationProvider) => IsolationProvider = (p) => p,
    ): Promise<SessionPool> {
      const pool = new SessionPool(wrap(createStubProvider({ stateDir: await dir() })), {
        exitHooks: false,
        ...options,
      });
      pools.push(pool);
      return pool;
    },
    /** Reads the stub's state directory through a provider that is not the pool. */
    async backend(): Promise<StubProvider> {
      observer ??= createStubProvider({ stateDir: await dir() });
      return observer;
    },
  };
}

const ownerScript = fileURLToPath(new URL("../fixtures/pool-owner.mjs", import.meta.url));

export interface PoolOwner {
  child: ChildProcess;
  poolId: string;
  warm: string[];
}

/** Starts a process that owns a pool of `size` warm stub sessions in `stateDir`. */
export async function startPoolOwner(
  stateDir: string,
  size: number,
  exitHooks: boolean,
): Promise<PoolOwner> {
  const child = spawn(process.execPath, [ownerScript, stateDir, String(size), String(exitHooks)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes("\n")) resolve(stdout.split("\n")[0] ?? "");
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`the pool owner exited (${code ?? signal}) early: ${stderr}`)),
    );
  });
  const parsed = JSON.parse(line) as { poolId: string; warm: string[] };
  return { child, ...parsed };
}

/** Resolves with how the child ended. */
export async function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  return { code, signal };
}
