import type { SessionState } from "@cadre/agent-runtime-contract";

/**
 * A container's state as a session state. "failed" is a container the daemon marks dead, or one
 * whose main process the kernel killed at the memory limit (all gVisor processes, at once).
 */
export function sessionState(status: string | undefined, oomKilled = false): SessionState {
  switch (status) {
    case "running":
    case "restarting":
      return "running";
    case "dead":
      return "failed";
    default:
      return oomKilled ? "failed" : "stopped";
  }
}
