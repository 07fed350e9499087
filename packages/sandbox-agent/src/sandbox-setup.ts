/**
 * How a provider puts the agent into a sandbox: where the binary is mounted, the uid it runs as,
 * the capabilities it keeps, its arguments, and how a host that did not start the session
 * reaches it. One definition for every engine provider (docs/sandbox-agent.md).
 */

/** Where the agent's binary is mounted, read-only, in every sandbox. */
export const agentMountPath = "/.cadre-agent";

/**
 * The uid and gid the agent runs as in a sandbox. No command may have it: the agent refuses a
 * session whose user resolves to it, so the kernel's uid checks keep every command away from it.
 */
export const agentUid = 65533;

/**
 * Capabilities the sandbox's PID 1 and the engine's exec of `connect` start with, as root: CHOWN
 * to make their stdio their own (then dropped), and what the agent keeps, to kill commands of
 * another uid and to become the session's user. Every command drops all of them.
 */
export const agentCapabilities = ["CHOWN", "KILL", "SETUID", "SETGID", "SETPCAP"] as const;

/**
 * The agent's arguments as PID 1, which the engine starts as root with `agentCapabilities` only:
 * the agent becomes `agentUid` at once, keeping them, and runs every command as `user` (a
 * policy's `user`, else the image's own, else root), which it resolves from the image's /etc
 * files before any command runs.
 */
export function agentArgs(user: string | undefined, options: { nofile?: number } = {}): string[] {
  const args = ["--agent-uid", String(agentUid), "--user", user || "0"];
  // The open-files limit of the agent and every command, where the engine does not set it.
  if (options.nofile !== undefined) args.push("--nofile", String(options.nofile));
  return args;
}

/**
 * The argv of an engine exec that joins a running agent. Run it as root with the container's
 * capabilities: it makes its stdio its own and becomes `agentUid`, which the agent admits.
 */
export const agentConnectArgv = [
  agentMountPath,
  "connect",
  "--agent-uid",
  String(agentUid),
] as const;
