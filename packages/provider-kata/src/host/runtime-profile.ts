import type { RuntimeKind } from "../capabilities.js";
import { isKataRuntime, type ResolvedKataOptions, shimBinaryName } from "../options.js";
import { containerdSearchPath, findOnPath, ownSearchPath, runCommand } from "./probes.js";

const standardShimDirs = ["/usr/local/bin", "/usr/bin", "/opt/kata/bin"];

export interface RuntimeProfile {
  /** What the sessions really run in: decides the isolation level reported. */
  kind: RuntimeKind;
  /** Kata runtime configured, but its shim is not Kata's (the CI stand-in) or was not found. */
  kataShim?: { path: string | undefined; version: string; genuine: boolean; searched: string[] };
  /** The OCI runtime binary named by runtimeOptions.BinaryName, and its --version. */
  binary?: { path: string; version: string; found: boolean };
  variant: string;
}

async function shimDirs(options: ResolvedKataOptions): Promise<string[]> {
  if (options.shimSearchPath) return options.shimSearchPath;
  const theirs = await containerdSearchPath(options.address);
  return [...(theirs ?? ownSearchPath()), ...standardShimDirs];
}

/**
 * Finds out what the configured runtime really is on this host: Kata's shim (a VM), a stand-in
 * under Kata's name (runc: a container), runc, or runc with runsc as its binary (gVisor).
 */
export async function detectRuntime(options: ResolvedKataOptions): Promise<RuntimeProfile> {
  if (isKataRuntime(options.runtime)) {
    const searched = await shimDirs(options);
    const path = await findOnPath(shimBinaryName(options.runtime), searched);
    const out = path ? await runCommand(path, ["--version"]) : undefined;
    const version = out?.output.split("\n")[0] ?? "";
    const genuine = out !== undefined && out.code === 0 && /kata containers/i.test(out.output);
    return {
      kind: genuine ? "kata" : "runc",
      kataShim: { path, version, genuine, searched },
      variant: genuine ? options.runtime : `${options.runtime} (stand-in shim, no VM)`,
    };
  }
  const binaryName = options.runtimeOptions?.BinaryName;
  if (binaryName) {
    const out = await runCommand(binaryName, ["--version"]);
    const found = out.code === 0;
    const runsc = found && /runsc/i.test(out.output);
    return {
      kind: runsc ? "runsc" : "runc",
      binary: { path: binaryName, version: out.output.split("\n")[0] ?? "", found },
      variant: `${options.runtime} + ${runsc ? "runsc" : binaryName}`,
    };
  }
  return { kind: "runc", variant: options.runtime };
}
