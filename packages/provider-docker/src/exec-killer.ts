/** Name of the variable every exec carries, so that its whole process tree can be found again. */
export const execMarkerVariable = "CADRE_EXEC_ID";

/**
 * Kills every process whose environment holds `CADRE_EXEC_ID=<marker>`, which catches children
 * that called setsid or double-forked away from the exec. Only shell builtins run in the loop (no
 * fork per process), so it works when a fork bomb holds every pid but one. Each round stops all
 * matches first so none can fork while the round kills them. Exit 0 when none is left.
 */
const killerScript = `target="${execMarkerVariable}=$1"
round=0
while [ "$round" -lt 50 ]; do
  found=
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] && continue
    { while IFS= read -r -d "" v; do
        if [ "$v" = "$target" ]; then found="$found $p"; break; fi
      done < "$d/environ"; } 2>/dev/null
  done
  [ -z "$found" ] && exit 0
  kill -STOP $found 2>/dev/null
  kill -KILL $found 2>/dev/null
  round=$((round + 1))
done
exit 1`;

/** argv of the exec that kills the processes of one exec. */
export function killerArgv(marker: string): string[] {
  return ["sh", "-c", killerScript, "cadre-exec-killer", marker];
}
