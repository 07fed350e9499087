/** Every exec's processes carry this variable, inherited by all their children. */
export const execTagVariable = "CADRE_EXEC_ID";

/**
 * A shell script (sh builtins only: no fork per process, so it still runs when the pids limit
 * is nearly used up) that finds every process whose environment holds CADRE_EXEC_ID=$1 and
 * stops it, pass after pass, until a pass finds no new one: stopped processes cannot fork, so
 * the set is then complete. Then it kills them all. It never matches itself (no tag).
 * Exit 0: every tagged process got SIGKILL.
 */
const script = `
tag="${execTagVariable}=$1"
scan() {
  found=""
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] && continue
    while IFS= read -r -d "" e; do
      if [ "$e" = "$tag" ]; then found="$found $p"; break; fi
    done 2>/dev/null < "$d/environ"
  done
}
previous=x
i=0
while [ $i -lt 200 ]; do
  scan
  [ -z "$found" ] && exit 0
  kill -STOP $found 2>/dev/null
  [ "$found" = "$previous" ] && break
  previous=$found
  i=$((i+1))
done
kill -KILL $found 2>/dev/null
scan
[ -z "$found" ] || kill -KILL $found 2>/dev/null
exit 0
`;

export function treeKillArgs(execTag: string): string[] {
  return ["/bin/sh", "-c", script, "cadre-tree-kill", execTag];
}
