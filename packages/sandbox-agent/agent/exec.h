/* The agent's execs: one per channel, each with its supervisor and three pipes. */
#ifndef CADRE_AGENT_EXEC_H
#define CADRE_AGENT_EXEC_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"

/* Most execs at once; the host is told FAULT past it. */
#define MAX_EXECS 256
/* Processes (EXEC_PROCESS) running at once; ended ones are kept until their slot is needed. */
#define MAX_PROCESSES 64
/* Output the host may take before its first CREDIT, per exec. */
#define INITIAL_CREDIT (256u * 1024)
/* Stdin bytes the agent holds for one exec before the host must wait (STDIN frames are acked). */
#define MAX_STDIN_BUFFER (1024u * 1024)
/* The size asked for a files operation's pipes. Not more: every sandbox's agent is the same
 * unprivileged uid on the host, whose pipes share one budget (/proc/sys/fs/pipe-user-pages-soft,
 * 64 MiB by default), past which the kernel gives that uid's new pipes a single page; 1 MiB
 * measured no faster than this here. */
#define BULK_PIPE_BYTES (256 * 1024)

/* Who every command runs as (identity.h); by default the agent's own user. */
void exec_set_identity(const struct identity *identity);

/* Handles one frame from the host on `link`. */
void exec_frame(uint32_t link, uint8_t type, uint32_t channel, const uint8_t *payload,
                uint32_t length);
/* The host of `link` went away: its execs have nobody to answer to, and are killed. */
void exec_link_closed(uint32_t link);

/* The descriptors to poll for every exec, after `fds[0..*count)`; returns the new count. */
int exec_poll_fds(struct pollfd *fds, int count, int capacity);
/* Acts on what poll found for the descriptors exec_poll_fds added. */
void exec_poll_done(const struct pollfd *fds, int count);
/* Milliseconds until the next exec deadline, or -1 without one. */
int exec_next_deadline_ms(void);
/* Kills the execs whose deadline has passed. */
void exec_deadlines(void);
/* Whether `pid` is one of the agent's supervisors (spared by the orphan sweep). */
int exec_is_supervisor(pid_t pid);
/* Kills every exec (the session stops). */
void exec_kill_all(void);

#endif
