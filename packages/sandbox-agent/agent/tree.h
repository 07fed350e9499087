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
 * `keep` (may be 0) and its own descendants are spared: the agent's supervisors.
 */
uint32_t kill_below(pid_t root, int budget_ms, int (*keep)(pid_t));

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t now_ms(void);

#endif
