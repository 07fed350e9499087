import type { SessionAgent } from "../agent/session-agents.js";
import { processSpec } from "../spec/session-spec.js";
import { type HelperTarget, runHelper } from "./run-helper.js";

const root = { uid: 0, gid: 0 };
const timeLimitMs = 10_000;

/**
 * Makes the session's working directory exist before its first command. PID 1 runs in "/", and
 * runtimes create only PID 1's directory (gVisor not even that inside the /tmp tmpfs). Made
 * through the agent, as the session's user, so that it may write there; failing that (a
 * directory only root may write in), as root without capabilities, by a containerd exec, as a
 * runtime would. When neither can, the first command reports the missing directory.
 */
export async function ensureWorkdir(
  agent: SessionAgent,
  target: Omit<HelperTarget, "base">,
): Promise<void> {
  const { cwd, env } = agent.defaults;
  if (cwd === "/") return;
  const argv = ["mkdir", "-p", "--", cwd];
  const asUser = await agent.link
    .exec({ argv, env, cwd: "/", maxOutputBytes: 4096, timeoutMs: timeLimitMs })
    .catch(() => undefined);
  if (asUser?.exitCode === 0) return;
  await runHelper({ ...target, base: processSpec(argv, root, env, "/") }, argv, timeLimitMs).catch(
    () => undefined,
  );
}
