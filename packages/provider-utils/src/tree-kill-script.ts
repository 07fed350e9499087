/**
 * Every process an exec starts carries this variable, and its children inherit it. A child that
 * called setsid or double-forked has left the exec's process group but still carries it.
 */
export const execTagVariable = "CADRE_EXEC_ID";

/** Last line the tree-kill script prints when it verified that nothing of the exec is left. */
export const treeKillCleanLine = "cadre-tree-kill: clean";

/**
 * A POSIX sh script, run inside the sandbox as its own exec, that kills an exec's processes:
 *
 * - every process whose environment holds CADRE_EXEC_ID=$1 (the tag);
 * - every descendant of one of those, tagged or not (`env -i`, `unset` and exec'ing a new program
 *   drop the tag; the parent link in /proc/<pid>/stat stays);
 * - when $2 (epoch seconds) is given: every orphan, a process whose parent is PID 1 (setsid and
 *   double fork end there), that started at or after $2. PID 1 itself is never taken, nor, when
 *   $3 is "init" (PID 1 is an init such as Docker's, which runs the session's main process), the
 *   child of PID 1 that started first: the main process. Nor is a child of PID 1 in PID 1's own
 *   session, when PID 1 leads session 1: an exec starts in a session of its own and setsid only
 *   makes new ones, so only what PID 1 itself started is there (a session loop's sleep, which it
 *   starts again at once when killed: taking it would chase it forever).
 *
 * It stops what it finds, pass after pass, until a pass finds nothing new (stopped processes
 * cannot fork), then kills them all with SIGKILL and checks, by pid and start time, that none is
 * left. Zombies are gone already and never count.
 *
 * Shells that read NUL-separated input with `read -d ""` (busybox ash, bash) read environ with
 * builtins only; /proc/<pid>/stat is read with builtins in every shell, so the scan works while a
 * fork bomb holds every pid. dash has no `read -d`, so there environ is read with grep -z, one
 * fork per process.
 *
 * Exit 0 and the last line {@link treeKillCleanLine}: nothing is left. Exit 1 otherwise, with
 * "cadre-tree-kill: left <n>" when n processes survived, or "cadre-tree-kill: unsure" when it
 * could not make sure (no way to read environ, a fork that failed during a grep scan, no boot
 * time for the orphan rule): the caller must then use a bigger hammer.
 */
const script = `
tag="${execTagVariable}=$1"
since="$2"
init="$3"
IFS=' 	
'
if read -r -d "" probe < /proc/self/environ 2>/dev/null; then mode=builtin
elif grep -qz . /proc/self/environ 2>/dev/null; then mode=grep
else echo "cadre-tree-kill: unsure"; exit 1
fi
unsure=0
# In grep mode a scan is only complete if forks worked throughout: grep the shell's own environ
# before and after it. Stopped processes cannot take pids, so a fork bomb cannot grow meanwhile.
canary() {
  [ "$mode" = grep ] || return 0
  grep -qz . "/proc/$$/environ" 2>/dev/null || unsure=1
}
tagged() {
  if [ "$mode" = builtin ]; then
    while IFS= read -r -d "" entry; do [ "$entry" = "$tag" ] && return 0; done 2>/dev/null < "$1"
    return 1
  fi
  # 2: unreadable (a kernel thread, another user's process): not one of ours.
  grep -qzxF -- "$tag" "$1" 2>/dev/null
}
# Sets state, ppid and start (clock ticks after boot) of pid $1. The command name may hold any
# byte, newlines too: the fields follow its last ") ".
info() {
  line=""
  part=""
  while IFS= read -r part || [ -n "$part" ]; do line="$line $part"; part=""; done 2>/dev/null < "/proc/$1/stat" || [ -n "$line" ] || return 1
  rest=\${line##*) }
  [ "$rest" = "$line" ] && return 1
  set -- $rest
  [ "$#" -ge 20 ] || return 1
  state=$1 ppid=$2 sid=$4 start=\${20}
}
gone() {
  case "$state" in Z|X|x) return 0;; esac
  return 1
}
btime=""
main=""
if [ -n "$since" ]; then
  while read -r key value; do [ "$key" = btime ] && btime=$value; done 2>/dev/null < /proc/stat
  [ -n "$btime" ] || { unsure=1; since=""; }
fi
if [ -n "$since" ] && [ "$init" = init ]; then
  first=""
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    info "$p" && [ "$ppid" = 1 ] || continue
    # Earliest start; within one clock tick, the lower pid.
    if [ -z "$first" ] || [ "$start" -lt "$first" ] || { [ "$start" = "$first" ] && [ "$p" -lt "$main" ]; }; then
      first=$start
      main=$p
    fi
  done
fi
# 1 when PID 1 leads session 1, which then holds only what PID 1 started; else empty.
initsid=""
info 1 && [ "$sid" = 1 ] && initsid=1
orphan() {
  [ -n "$since" ] && [ "$ppid" = 1 ] && [ "$p" != "$main" ] && [ "$sid" != "$initsid" ] || return 1
  [ $((btime + start / 100)) -ge "$since" ]
}
taken=" "
stamps=" "
# Adds what belongs to the exec and is not taken yet to taken; the new pids to new.
scan() {
  canary
  new=""
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] || [ "$p" = 1 ] && continue
    case "$taken" in *" $p "*) continue;; esac
    info "$p" || continue
    gone && continue
    case "$taken" in *" $ppid "*) ;; *) orphan || tagged "$d/environ" || continue;; esac
    taken="$taken$p "
    stamps="$stamps$p:$start "
    new="$new $p"
  done
  canary
}
round=0
while [ "$round" -lt 200 ]; do
  scan
  [ -z "$new" ] && break
  kill -STOP $new 2>/dev/null
  round=$((round + 1))
done
[ -n "$new" ] && unsure=1
left=$taken
round=0
while [ "$round" -lt 50 ]; do
  [ -n "\${left# }" ] && kill -KILL $left 2>/dev/null
  survivors=""
  for p in $taken; do
    info "$p" || continue
    gone && continue
    case "$stamps" in *" $p:$start "*) survivors="$survivors $p";; esac
  done
  scan
  left="$survivors$new"
  if [ -z "$left" ]; then
    if [ "$unsure" = 0 ]; then echo "${treeKillCleanLine}"; exit 0; fi
    echo "cadre-tree-kill: unsure"; exit 1
  fi
  round=$((round + 1))
done
count=0
for p in $left; do count=$((count + 1)); done
echo "cadre-tree-kill: left $count"
exit 1
`;

export interface TreeKillOptions {
  /**
   * When the exec began (epoch ms, the sandbox's clock). Given, orphans (parent PID 1) that
   * started since then are taken as the exec's too: setsid, double fork and a cleared
   * environment do not escape. Left out, only tagged processes and their descendants are.
   */
  orphansSince?: number;
  /**
   * PID 1 is an init that runs the session's main process as its first child (Docker's
   * `Init: true`): that child is never taken for an orphan. Left out, PID 1 is the main process.
   */
  pid1IsInit?: boolean;
}

/** argv of the exec that kills the processes of the exec tagged with `tag`. */
export function treeKillArgv(tag: string, options: TreeKillOptions = {}): string[] {
  const argv = ["/bin/sh", "-c", script, "cadre-tree-kill", tag];
  if (options.orphansSince !== undefined) {
    // One second of slack: the sandbox's boot time has whole seconds only.
    argv.push(String(Math.floor(options.orphansSince / 1000) - 1));
    if (options.pid1IsInit) argv.push("init");
  }
  return argv;
}
