/**
 * Every process an exec starts carries this variable, and its children inherit it. A child that
 * called setsid or double-forked has left the exec's process group but still carries it.
 */
export const execTagVariable = "CADRE_EXEC_ID";

/**
 * A POSIX sh script, run inside the sandbox as its own exec, that kills every process whose
 * environment holds CADRE_EXEC_ID=$1. It stops matches pass after pass until a pass finds no new
 * one (stopped processes cannot fork), then kills them all, then checks.
 *
 * Shells that read NUL-separated input with `read -d ""` (busybox ash, bash) scan with builtins
 * only, so the scan still works when a fork bomb holds every pid. dash has no `read -d`, so there
 * it falls back to grep -z, one fork per process.
 *
 * Exit 0: no tagged process is left. Exit 1: it could not make sure (no way to read environ, a
 * fork that failed during a grep scan, a process that survived): the caller must then use a
 * bigger hammer.
 */
const script = `
tag="${execTagVariable}=$1"
if read -r -d "" probe < /proc/self/environ 2>/dev/null; then mode=builtin
elif grep -qz . /proc/self/environ 2>/dev/null; then mode=grep
else exit 1
fi
unsure=0
# In grep mode a scan is only complete if forks worked throughout: grep the shell's own environ
# before and after it. Stopped processes cannot take pids, so a fork bomb cannot grow meanwhile.
canary() {
  [ "$mode" = grep ] || return 0
  grep -qz . "/proc/$$/environ" 2>/dev/null || unsure=1
}
matches() {
  if [ "$mode" = builtin ]; then
    while IFS= read -r -d "" entry; do [ "$entry" = "$tag" ] && return 0; done 2>/dev/null < "$1"
    return 1
  fi
  # 2: unreadable (a kernel thread, another user's process): not one of ours.
  grep -qzxF -- "$tag" "$1" 2>/dev/null
}
scan() {
  canary
  found=""
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] && continue
    matches "$d/environ" && found="$found $p"
  done
  canary
}
previous=none
round=0
while [ "$round" -lt 200 ]; do
  scan
  [ -z "$found" ] && exit "$unsure"
  kill -STOP $found 2>/dev/null
  [ "$found" = "$previous" ] && break
  previous=$found
  round=$((round + 1))
done
round=0
while [ "$round" -lt 50 ]; do
  kill -KILL $found 2>/dev/null
  scan
  [ -z "$found" ] && exit "$unsure"
  round=$((round + 1))
done
exit 1
`;

/** argv of the exec that kills the processes tagged with `tag`. */
export function treeKillArgv(tag: string): string[] {
  return ["/bin/sh", "-c", script, "cadre-tree-kill", tag];
}
