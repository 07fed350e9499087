import { join } from "node:path";

/**
 * The session's scratch root stands in for "/": policy.workdir and exec cwd are paths inside it,
 * so "/src" is `<root>/src`. A path that already lies inside the root (as `pwd` prints it) is
 * taken as it is, so that a directory a command reported can be passed back as cwd.
 */
export function hostPath(root: string, sandboxPath: string): string {
  if (sandboxPath === root || sandboxPath.startsWith(`${root}/`)) return sandboxPath;
  return join(root, sandboxPath);
}

export interface EnvironmentInput {
  root: string;
  policyEnv: Record<string, string> | undefined;
  execEnv: Record<string, string> | undefined;
}

/**
 * Nothing of the host's environment but PATH; HOME is the scratch root. The caller's variables
 * override both. Nothing else: no tag is needed to find a command's processes, they all stay
 * below its supervisor in the session's agent.
 */
export function commandEnvironment(input: EnvironmentInput): Record<string, string> {
  return {
    PATH: process.env.PATH || "/usr/local/bin:/usr/bin:/bin",
    HOME: input.root,
    ...input.policyEnv,
    ...input.execEnv,
  };
}
