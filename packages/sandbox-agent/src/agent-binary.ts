import { existsSync } from "node:fs";
import { arch } from "node:os";
import { fileURLToPath } from "node:url";

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
