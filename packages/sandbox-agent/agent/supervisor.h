/* One command's supervisor: a subreaper process between the agent and the command. */
#ifndef CADRE_AGENT_SUPERVISOR_H
#define CADRE_AGENT_SUPERVISOR_H

#include <stdint.h>

#include "identity.h"

/* What a supervisor reports to the agent, one fixed-size record at a time. */
struct report {
  uint32_t kind;
  int32_t value; /* STARTED: pid; START_FAILED: errno; EXITED: wait status; KILLED: 1 if clean */
  uint32_t survivors;
};

enum { REPORT_STARTED = 1, REPORT_START_FAILED = 2, REPORT_EXITED = 3, REPORT_KILLED = 4 };

/* What the command is given. The strings point into the agent's copy of the EXEC frame. */
struct launch {
  char *const *argv;
  char *const *envp;
  const char *cwd;
  const struct identity *identity; /* who the command runs as */
  int builtin;                        /* argv names a files operation (builtin.h), run in place */
  int stdin_fd, stdout_fd, stderr_fd; /* the command's ends of its pipes, or its terminal */
  int report_fd;                      /* write end of the pipe to the agent */
  int pty;                            /* stdin is a terminal: it becomes the controlling one */
};

/*
 * Runs in the forked supervisor and never returns. It becomes a non-dumpable subreaper, starts
 * the command, and reports; SIGUSR1 from the agent makes it kill every process below it.
 */
void supervise(const struct launch *launch) __attribute__((noreturn));

/*
 * The signals whose disposition the agent changes (main.c): its handlers, and SIGPIPE ignored.
 * Every other one is at its default from the agent's start, so a command resets only these: under
 * gVisor each system call costs tens of microseconds, and a reset of all 64 cost milliseconds.
 */
#define AGENT_HANDLED_SIGNALS SIGCHLD, SIGTERM, SIGINT, SIGHUP
#define AGENT_SIGNALS {AGENT_HANDLED_SIGNALS, SIGPIPE}

/* How long a supervisor may spend killing its tree. */
#define KILL_BUDGET_MS 3000
/* How long a files operation may take to clean up after SIGTERM (its temporary file, its staging
 * directory) before it is killed like any command. */
#define BUILTIN_CLEANUP_MS 2000

#endif
