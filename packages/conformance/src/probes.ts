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

/**
 * Starts background sleepers until a fork fails, and fails with it (a shell exits when it cannot
 * fork), leaving the sleepers to the session's end.
 */
export function forkBombArgv(attempts: number): string[] {
  return [
    "sh",
    "-c",
    `n=0; while [ $n -lt ${attempts} ]; do sleep 300 </dev/null >/dev/null 2>&1 & n=$((n+1)); done; echo "all ${attempts} started"; exit 3`,
  ];
}

/** Allocates and touches `bytes` of memory in one process (dd's block buffer). */
export function memoryHogArgv(bytes: number): string[] {
  return ["dd", "if=/dev/zero", "of=/dev/null", `bs=${bytes}`, "count=1"];
}

/** The loop of an escaped process: ignores TERM, INT and HUP, ends by itself after ten minutes. */
const escapedLoop =
  'trap "" TERM INT HUP; i=0; while [ $i -lt 600 ]; do /bin/sleep 1; i=$((i+1)); done';

/** Suffixes of the two processes {@link escapingTreeArgv} leaves behind, after its token. */
export const escapedSuffixes = ["escaped-env", "escaped-setsid"] as const;

/**
 * A command that tries every way out of its exec's deadline: it drops its exec tag (`unset`,
 * `env -i`), starts one child with an empty environment and another through a double fork and
 * `setsid` (so it is reparented to PID 1 and leaves the process group and session), prints
 * "started" once both run, and waits. Each escaped process carries `<token>-<suffix>` as its
 * argv[0]; the full string appears in no other process's argv (the command holds only the token).
 */
export function escapingTreeArgv(token: string): string[] {
  const [viaEnv, viaSetsid] = escapedSuffixes;
  const script = [
    "unset CADRE_EXEC_ID",
    't="$1"',
    `env -i /bin/sh -c '${escapedLoop}' "$t-${viaEnv}" &`,
    `( setsid env -i /bin/sh -c '${escapedLoop}' "$t-${viaSetsid}" & )`,
    "n=0",
    "while [ $n -lt 600 ]; do",
    `  all=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ')`,
    `  case "$all" in *"$t-${viaEnv}"*) case "$all" in *"$t-${viaSetsid}"*) break ;; esac ;; esac`,
    "  n=$((n+1)); /bin/sleep 0.1",
    "done",
    "echo started",
    "wait",
  ].join("\n");
  return ["sh", "-c", script, "sh", token];
}

/**
 * SIGKILLs every process whose argv holds `<token>-<suffix>` for one of `suffixes` and prints
 * "killed <n>". Its own argv holds only the token, so it never matches itself.
 */
export function killByTokenArgv(token: string, suffixes: readonly string[]): string[] {
  const patterns = suffixes.map((s) => `*"$1-${s}"*`).join("|");
  const script = [
    "n=0",
    "for d in /proc/[0-9]*; do",
    `  case "$(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null)" in ${patterns}) kill -9 "\${d#/proc/}" 2>/dev/null && n=$((n+1)) ;; esac`,
    "done",
    'echo "killed $n"',
  ].join("\n");
  return ["sh", "-c", script, "sh", token];
}

/**
 * Prints what a session's boundary looks like from inside, one `key=value` line each: the
 * status fields of /proc/self/status, the namespaces, the kernel's boot id, the device nodes,
 * whether the usual masked /proc and /sys paths show anything, whether /proc/sys and /sys take a
 * write, whether a user namespace can be made (seccomp's default profiles refuse it), and every
 * socket file on the filesystem.
 */
export const boundaryReportArgv = [
  "sh",
  "-c",
  [
    "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' \\t' | tr ':' '='",
    'for n in pid ipc uts mnt net; do echo "ns_$n=$(readlink /proc/self/ns/$n 2>/dev/null)"; done',
    'echo "boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"',
    'echo "kernel=$(uname -r -v 2>/dev/null)"',
    "echo \"devices=$(ls /dev 2>/dev/null | tr '\\n' ' ')\"",
    "exposed=''",
    "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do",
    '  [ "$(head -c 1 "$p" 2>/dev/null | wc -c)" -gt 0 ] && exposed="$exposed $p"',
    "done",
    '[ -n "$(ls -A /sys/firmware 2>/dev/null)" ] && exposed="$exposed /sys/firmware"',
    'echo "exposed=$exposed"',
    "if ( echo 1 > /proc/sys/vm/drop_caches ) 2>/dev/null; then echo procsys=writable; else echo procsys=readonly; fi",
    "if touch /sys/cadre-probe 2>/dev/null; then rm -f /sys/cadre-probe; echo sys=writable; else echo sys=readonly; fi",
    "if unshare -U true 2>/dev/null; then echo userns=allowed; else echo userns=refused; fi",
    "echo \"sockets=$(find / -path /proc -prune -o -path /sys -prune -o -type s -print 2>/dev/null | tr '\\n' ' ')\"",
  ].join("\n"),
];

/** Parses `key=value` lines. */
export function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}
