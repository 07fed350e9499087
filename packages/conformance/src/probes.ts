/**
 * Shell probes the suite runs inside sessions. They use only tools that busybox and GNU coreutils
 * both have, and they never depend on timing for their verdict.
 */

/**
 * A command whose tree ignores TERM, INT and HUP, so only killing the whole tree with SIGKILL ends
 * it. A background child shell carries `token` in its argv; "started" is printed once it was
 * forked. The loop ends by itself after ten minutes, so a broken provider cannot leave it forever.
 */
export function lingeringTreeArgv(token: string): string[] {
  const child = 'trap "" TERM INT HUP; i=0; while [ $i -lt 600 ]; do sleep 1; i=$((i+1)); done';
  return ["sh", "-c", `trap "" TERM INT HUP; sh -c '${child}' ${token} & echo started; wait; wait`];
}

/** Prints every process's argv (NUL separated). Its own argv holds no token. */
export const listProcessesArgv = ["sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null; true"];

/**
 * Starts up to `attempts` background sleepers, printing "spawned <n> <pid>" for each, until fork
 * fails; then kills them with builtins only (no fork is needed once the limit is reached) and
 * prints "reached <n>".
 */
export function forkProbeArgv(attempts: number, scratchFile: string): string[] {
  const bomb = [
    "n=0",
    `while [ $n -lt ${attempts} ]; do`,
    "  sleep 300 </dev/null >/dev/null 2>&1 &",
    "  n=$((n+1))",
    '  echo "spawned $n $!"',
    "done",
  ].join("\n");
  const script = [
    `sh -c '${bomb}' > ${scratchFile} 2>&1`,
    "reached=0",
    'while read -r word n pid; do [ "$word" = spawned ] && { reached=$n; kill -9 $pid 2>/dev/null; }; done < ' +
      scratchFile,
    `rm -f ${scratchFile}`,
    'echo "reached $reached"',
  ].join("\n");
  return ["sh", "-c", script];
}

/** Allocates and touches `bytes` of memory in one process (dd's block buffer). */
export function memoryHogArgv(bytes: number): string[] {
  return ["dd", "if=/dev/zero", "of=/dev/null", `bs=${bytes}`, "count=1"];
}
