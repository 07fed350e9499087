import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { isAlive } from "../src/host-processes.js";
import { createStubProvider, type StubProvider, type StubProviderOptions } from "../src/index.js";

/**
 * A fresh state directory per test and a factory for providers on it. After each test every
 * session in that directory is destroyed (which also kills its processes) and the directory goes.
 */
export function useStubProviders() {
  const providers: StubProvider[] = [];
  const stateDirs: string[] = [];

  afterEach(async () => {
    for (const provider of providers.splice(0)) {
      for (const session of await provider.listSessions()) {
        await provider.destroySession(session.id);
      }
      await provider.close();
    }
    for (const stateDir of stateDirs.splice(0)) {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  return async (options: StubProviderOptions = {}): Promise<StubProvider> => {
    let stateDir = options.stateDir;
    if (stateDir === undefined) {
      // Registered before the provider exists, so a test of bad options leaves no directory.
      stateDir = await mkdtemp(join(tmpdir(), "cadre-stub-test-"));
      stateDirs.push(stateDir);
    }
    const provider = createStubProvider({ ...options, stateDir });
    providers.push(provider);
    return provider;
  };
}

/** A number no other process on this host has on its command line. */
export function uniqueSleepSeconds(): string {
  return `${100000 + Math.floor(Math.random() * 800000)}.${Math.floor(Math.random() * 1000)}`;
}

/** Live (non-zombie) processes whose command line contains `token` as one argument. */
export async function processesWithArgument(token: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [cmdline, stat] = await Promise.all([
        readFile(`/proc/${entry}/cmdline`, "utf8"),
        readFile(`/proc/${entry}/stat`, "utf8"),
      ]);
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state !== "Z" && cmdline.split("\0").includes(token)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export async function sessionDirectories(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(stateDir)).filter((name) => !name.startsWith("."));
  } catch {
    return [];
  }
}

/** For vi.waitFor on a busy host: how long to keep polling a condition that is on its way. */
export const waitLimit = { timeout: 10_000, interval: 20 };

/** The session's agent as its record names it: pid and start time, and its socket. */
export async function agentOf(
  stateDir: string,
  id: string,
): Promise<{ pid: number; start: number; socket: string }> {
  const record = JSON.parse(await readFile(join(stateDir, id, "session.json"), "utf8")) as {
    agent?: { pid?: number; start?: number; socket?: string };
  };
  const { pid, start, socket } = record.agent ?? {};
  if (pid === undefined || start === undefined || socket === undefined) {
    throw new Error(`the record of ${id} names no agent process`);
  }
  return { pid, start, socket };
}

/** Whether that process (pid and start time) still runs; a zombie has ended. */
export function alive(process: { pid: number; start: number }): Promise<boolean> {
  return isAlive(process);
}
