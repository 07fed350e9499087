/*
 * cadre-agent: runs inside a session's sandbox, as its PID 1, and runs the host's commands.
 * The host speaks to it over its stdin and stdout (protocol.h); every command runs under a
 * supervisor of its own (supervisor.c), so that killing it reaches every process it started.
 * As PID 1 it also reaps every orphan and stops the session on SIGTERM from outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "link.h"
#include "protocol.h"

static int wake[2]; /* signal handlers write here; the loop polls it */
static volatile sig_atomic_t stopping;
static int pid1;

static void on_signal(int sig, siginfo_t *info, void *context) {
  (void)context;
  int saved = errno;
  /* As PID 1, a stop counts only from outside the sandbox (si_pid 0 there): a tenant's SIGTERM
   * to PID 1 does nothing. */
  if (sig != SIGCHLD && (!pid1 || info->si_pid == 0)) stopping = 1;
  char byte = 0;
  (void)!write(wake[1], &byte, 1);
  errno = saved;
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
  for (unsigned i = 0; i < sizeof handled / sizeof *handled; i++) sigaction(handled[i], &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void hello(void) {
  uint8_t payload[sizeof PROTOCOL_NAME + 4];
  memcpy(payload, PROTOCOL_NAME, sizeof PROTOCOL_NAME);
  put_u32(payload + sizeof PROTOCOL_NAME, (uint32_t)getpid());
  link_send(FRAME_HELLO, 0, payload, sizeof payload);
}

int main(void) {
  pid1 = getpid() == 1;
  /* Orphans come here when this is not PID 1 too (the stub, tests). */
  if (!pid1) prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_DUMPABLE, 0);
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return 2;
  install_handlers();
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  hello();

  static struct pollfd fds[2 + 4 * MAX_EXECS];
  int host_open = 1;
  while (!stopping) {
    int count = 0;
    fds[count++] = (struct pollfd){wake[0], POLLIN, 0};
    if (host_open) fds[count++] = (struct pollfd){0, POLLIN, 0};
    int first_exec = count;
    count = exec_poll_fds(fds, count, (int)(sizeof fds / sizeof *fds));
    int ready = poll(fds, (nfds_t)count, exec_next_deadline_ms());
    if (ready < 0 && errno != EINTR) return 2;
    if (ready > 0 && fds[0].revents) {
      char drain[64];
      while (read(wake[0], drain, sizeof drain) > 0) {
      }
      /* Supervisors report through their pipes; here only the exit of every child is reaped. */
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    }
    if (ready > 0 && host_open && fds[1].revents) {
      int state = link_fill();
      struct frame f;
      int got;
      while ((got = link_next(&f)) == 1) {
        if (f.type == FRAME_HELLO_AGAIN && f.channel == 0) hello();
        else exec_frame(f.type, f.channel, f.payload, f.length);
      }
      if (got < 0) {
        link_send(FRAME_FAULT, 0, "frame past the agent's limit", 28);
        stopping = 1;
      }
      if (state <= 0) {
        /* The host closed the link. As PID 1 the session goes on until it is stopped; a plain
         * process (the stub, tests) has nobody left to answer to. */
        host_open = 0;
        if (!pid1) stopping = 1;
      }
    }
    if (ready > 0) exec_poll_done(fds + first_exec, count - first_exec);
    exec_deadlines();
  }
  exec_kill_all();
  return 0;
}
