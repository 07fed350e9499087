import { setTimeout as delay } from "node:timers/promises";
import { hasEntry, hasVariable, type ProcessEntry, scanProcesses } from "./process-scan.js";

/** Which host processes belong to an exec or a session. */
export interface KillScope {
  /** The variable every process of the scope inherits, `tagName=tagValue`. */
  tagName: string;
  tagValue: string;
  /** Processes the stub spawned: their process groups and all their descendants belong too. */
  roots: number[];
  /**
   * Processes whose working directory lies inside this directory belong too (a command that
   * cleared its environment and left the group still sits in the session's scratch root),
   * unless they carry `tagName` with another value: those are another exec's or session's.
   */
  directory?: string;
  /** Only processes started at or after this tick since boot are claimed by directory. */
  directorySince?: number;
}

export interface KillOutcome {
  /** Processes of the scope that were found and killed. */
  found: number;
  /**
   * Found processes without the tag: the command hid from the tag scan (cleared or replaced its
   * environment), so it may have hidden others the scan could not attribute at all.
   */
  untagged: number;
  /** Found processes still alive when the budget ran out. */
  survivors: number;
  /** False without a readable /proc, or when the budget ran out first: nothing was verified. */
  verified: boolean;
}

/**
 * Freezes the scope's processes with SIGSTOP, scan after scan, until a scan finds no new one
 * (a stopped process cannot fork, and its children keep it as their parent, so the ancestry
 * stays readable), then SIGKILLs them all and checks they are gone. Returns within `budgetMs`
 * plus one scan.
 */
export async function killScope(scope: KillScope, budgetMs: number): Promise<KillOutcome> {
  const until = performance.now() + budgetMs;
  const members = new Map<number, ProcessEntry>();
  let untagged = 0;
  let uncertainRounds = 0;
  let frozen = false;
  for (const root of scope.roots) signal(-root, "SIGSTOP");

  while (performance.now() < until) {
    const entries = await scanProcesses();
    if (entries.length === 0) break; // no /proc: only the process groups can be reached
    const { added, uncertain } = claim(entries, scope, members);
    for (const entry of added) {
      if (!hasTag(entry, scope)) untagged += 1;
      signal(entry.pid, "SIGSTOP");
    }
    if (added.length > 0) continue;
    // A process in the middle of execve has no readable environment yet: look again.
    if (uncertain && uncertainRounds++ < 3) {
      await delay(1);
      continue;
    }
    frozen = true;
    break;
  }

  for (const root of scope.roots) signal(-root, "SIGKILL");
  let alive = [...members.values()];
  for (let round = 0; alive.length > 0; round++) {
    for (const entry of alive) signal(entry.pid, "SIGKILL");
    if (performance.now() >= until) break;
    // SIGKILL is delivered asynchronously: give the kernel a moment before the next look.
    await delay(round < 10 ? 2 : 20);
    const live = new Map((await scanProcesses()).map((e) => [e.pid, e.start]));
    alive = alive.filter((e) => live.get(e.pid) === e.start);
  }
  return { found: members.size, untagged, survivors: alive.length, verified: frozen };
}

/** Adds the scope's processes not yet in `members`; reports whether some could not be judged. */
function claim(
  entries: ProcessEntry[],
  scope: KillScope,
  members: Map<number, ProcessEntry>,
): { added: ProcessEntry[]; uncertain: boolean } {
  const added: ProcessEntry[] = [];
  let uncertain = false;
  const take = (entry: ProcessEntry) => {
    members.set(entry.pid, entry);
    added.push(entry);
  };
  for (const entry of entries) {
    if (members.get(entry.pid)?.start === entry.start) continue;
    if (
      scope.roots.includes(entry.pid) ||
      scope.roots.includes(entry.pgrp) ||
      hasTag(entry, scope) ||
      inDirectory(entry, scope)
    ) {
      take(entry);
    } else if (entry.environ === "mid-exec") {
      uncertain = true;
    }
  }
  // Descendants, however deep: repeat until no child of a member is left out.
  for (let grew = true; grew; ) {
    grew = false;
    for (const entry of entries) {
      if (members.get(entry.pid)?.start === entry.start) continue;
      const parent = members.get(entry.ppid);
      if (parent && entry.start >= parent.start) {
        take(entry);
        grew = true;
      }
    }
  }
  return { added, uncertain };
}

function hasTag(entry: ProcessEntry, scope: KillScope): boolean {
  return Buffer.isBuffer(entry.environ)
    ? hasEntry(entry.environ, `${scope.tagName}=${scope.tagValue}`)
    : false;
}

function inDirectory(entry: ProcessEntry, scope: KillScope): boolean {
  const { directory, directorySince } = scope;
  if (!directory || !entry.cwd) return false;
  if (entry.cwd !== directory && !entry.cwd.startsWith(`${directory}/`)) return false;
  if (directorySince !== undefined && entry.start < directorySince) return false;
  // Someone else's: it carries the tag with another value.
  return !(Buffer.isBuffer(entry.environ) && hasVariable(entry.environ, scope.tagName));
}

function signal(pid: number, name: "SIGSTOP" | "SIGKILL"): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
