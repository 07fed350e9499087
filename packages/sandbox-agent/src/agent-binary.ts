import { existsSync } from "node:fs";
import { arch } from "node:os";
import { fileURLToPath } from "node:url";
import { readElfInfo } from "./elf.js";

/** Node's names for the architectures the package ships a binary for, and uname's. */
const unameOf: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

/**
 * The path of the cadre-agent binary for `architecture` (Node's name, default this machine's),
 * or undefined when the package has none for it.
 */
export function agentBinaryPath(architecture: string = arch()): string | undefined {
  const uname = unameOf[architecture];
  if (!uname) return undefined;
  const path = fileURLToPath(new URL(`../bin/cadre-agent-${uname}`, import.meta.url));
  return existsSync(path) ? path : undefined;
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
