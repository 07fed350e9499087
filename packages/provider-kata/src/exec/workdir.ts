import type { OciProcess } from "../spec/oci-types.js";
import { type HelperTarget, runHelper } from "./run-helper.js";

const root = { uid: 0, gid: 0 };
const timeLimitMs = 10_000;

/**
 * Makes the session's working directory exist before its first exec. PID 1 runs in "/", and
 * runtimes create only PID 1's directory (gVisor not even that inside the /tmp tmpfs). Made as
 * the session's user, so it may write there; failing that (a directory only root may write in),
 * as root, as a runtime would. When neither can, the first exec reports the missing directory.
 */
export async function ensureWorkdir(
  target: Omit<HelperTarget, "base">,
  execBase: OciProcess,
): Promise<void> {
  if (execBase.cwd === "/") return;
  for (const user of [execBase.user, root]) {
    const status = await runHelper(
      { ...target, base: { ...execBase, cwd: "/", user } },
      ["mkdir", "-p", "--", execBase.cwd],
      timeLimitMs,
    ).catch(() => undefined);
    if (status === 0) return;
  }
}
