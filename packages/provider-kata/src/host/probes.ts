import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, open, readdir, readFile, readlink, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** Opens a device read-write, as the hypervisor will. */
export async function openDevice(path: string): Promise<ProbeResult> {
  try {
    const handle = await open(path, constants.O_RDWR);
    await handle.close();
    return { ok: true, detail: `${path} opens read-write` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      detail: code === "ENOENT" ? `${path} does not exist` : `${path} cannot be opened (${code})`,
    };
  }
}

export interface CpuVirtualization {
  flag: "vmx" | "svm" | undefined;
  /** The host is itself a guest (the "hypervisor" cpu flag). */
  guest: boolean;
}

export async function cpuVirtualization(): Promise<CpuVirtualization> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  return {
    flag: flags.has("vmx") ? "vmx" : flags.has("svm") ? "svm" : undefined,
    guest: flags.has("hypervisor"),
  };
}

export interface CommandOutput {
  code: number | null;
  output: string;
  error?: string;
}

/** Runs a binary with a time limit and returns stdout and stderr together. */
export function runCommand(
  file: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<CommandOutput> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ code: 0, output });
        const code = typeof error.code === "number" ? error.code : null;
        resolve({ code, output, error: error.message });
      },
    );
  });
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function findOnPath(binary: string, dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = join(dir, binary);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The PATH of the containerd serving `socketPath`, read from its /proc entry: containerd starts
 * shims from its own PATH, which may differ from ours. Undefined when not readable (other host,
 * no permission).
 */
export async function containerdSearchPath(socketPath: string): Promise<string[] | undefined> {
  try {
    const unix = await readFile("/proc/net/unix", "utf8");
    const inode = unix
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[7] === socketPath && f[3] === "00010000")?.[6];
    if (!inode) return undefined;
    const target = `socket:[${inode}]`;
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")) !== target) continue;
        const environ = await readFile(`/proc/${pid}/environ`, "utf8");
        const path = environ.split("\0").find((e) => e.startsWith("PATH="));
        return path ? path.slice(5).split(delimiter).filter(Boolean) : undefined;
      }
    }
  } catch {
    // Not Linux, or /proc hidden: fall back to our PATH.
  }
  return undefined;
}

export function ownSearchPath(): string[] {
  return (process.env.PATH ?? "").split(delimiter).filter(Boolean);
}
