import { createHash } from "node:crypto";
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { arch, homedir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readElfInfo } from "./elf.js";

/** Node's names for the architectures the package ships a binary for, and uname's. */
const unameOf: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

/**
 * The path of the cadre-agent binary for `architecture` (Node's name, default this machine's),
 * or undefined when the package has none for it. A package manager may have installed it without
 * its exec bit (pnpm packs every file but `bin` entries 0644): then the path is that of an
 * executable copy in this user's cache (`$XDG_CACHE_HOME` or `~/.cache`, `cadre-agent/`, in a
 * directory named after the binary's SHA-256), made once and checked against the package's bytes
 * every time, in directories only this user can write to.
 */
export function agentBinaryPath(architecture: string = arch()): string | undefined {
  const uname = unameOf[architecture];
  if (!uname) return undefined;
  const path = fileURLToPath(new URL(`../bin/cadre-agent-${uname}`, import.meta.url));
  return existsSync(path) ? executableAgent(path) : undefined;
}

/** `path` itself when it is executable, else its executable copy in this user's cache. */
export function executableAgent(path: string): string {
  return executable(path) ? path : executableCopy(path, basename(path));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function executableCopy(source: string, name: string): string {
  const bytes = readFileSync(source);
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 32);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const dir = join(cache, "cadre-agent", digest);
  for (const d of [cache, join(cache, "cadre-agent"), dir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    ownedDirectory(d);
  }
  const copy = join(dir, name);
  if (existsSync(copy) && readFileSync(copy).equals(bytes) && executable(copy)) return copy;
  const partial = `${copy}.${process.pid}.tmp`;
  writeFileSync(partial, bytes, { mode: 0o500 });
  chmodSync(partial, 0o555);
  renameSync(partial, copy);
  return copy;
}

/** A directory of this user's that nobody else can write to (no symlink put in its place). */
function ownedDirectory(dir: string): void {
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || stat.mode & 0o022) {
    throw new Error(
      `${dir} is not a directory of this user's that only it can write to: the agent's binary is not copied there`,
    );
  }
}

/** Whether a binary can be a session's agent on a host, and why, in a line for `doctor`. */
export interface AgentBinaryFit {
  fits: boolean;
  /** uname's name of the binary's architecture, from its ELF header; undefined when unreadable. */
  arch: string | undefined;
  detail: string;
}

/**
 * Reads `path`'s ELF header and says whether it fits a host of `architecture` (Node's name,
 * default this machine's): an executable for that machine that needs nothing but the kernel (no
 * program interpreter, no dynamic section), as the sandbox gives it no libraries.
 */
export function agentBinaryFit(path: string, architecture: string = arch()): AgentBinaryFit {
  const host = unameOf[architecture] ?? architecture;
  let info: ReturnType<typeof readElfInfo>;
  try {
    info = readElfInfo(path);
  } catch (error) {
    return { fits: false, arch: undefined, detail: (error as Error).message };
  }
  const problems: string[] = [];
  if (info.arch !== host) problems.push(`built for ${info.arch}, but this host is ${host}`);
  if (info.type !== "exec") problems.push("not a plain executable (ELF type ET_EXEC)");
  if (info.interpreter !== undefined) problems.push(`dynamically linked (${info.interpreter})`);
  else if (info.dynamic) problems.push("has a dynamic section");
  if (problems.length > 0) {
    return { fits: false, arch: info.arch, detail: `${path}: ${problems.join("; ")}` };
  }
  return { fits: true, arch: info.arch, detail: `${path}: static ${info.arch} executable` };
}
