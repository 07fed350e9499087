/* Processes below one ancestor, read from /proc, and killing all of them. */
#ifndef CADRE_AGENT_TREE_H
#define CADRE_AGENT_TREE_H

#include <stdint.h>
#include <sys/types.h>

/*
 * SIGKILLs every live process below `root` (not root itself), pass after pass, reaping what
 * becomes root's child, until none is left or `budget_ms` has passed. For a subreaper root, every
 * orphan of the tree comes back to it, so setsid, double forks and a cleared environment change
 * nothing. Returns how many processes were still alive at the end (0: verified clean).
 * A child of root for which `keep` (may be 0) says yes is spared with everything below it (the
 * agent's supervisors), and so is one that started before `since` (clock ticks after boot, as
 * /proc/<pid>/stat counts them; 0 takes all).
 */
uint32_t kill_below(pid_t root, int budget_ms, int (*keep)(pid_t), unsigned long long since);

/* The parent of `pid` as this PID namespace sees it (0: outside it); 0 when `pid` is gone. */
int proc_parent(pid_t pid, pid_t *parent);

/* When `pid` started, in clock ticks after boot; 0 when it is gone. */
unsigned long long start_ticks(pid_t pid);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t now_ms(void);

#endif
