/*
 * cadre-agent: runs inside a session's sandbox, as its PID 1, and runs the host's commands.
 * The host speaks to it over its stdin and stdout, or over its socket after attaching later
 * (protocol.h, attach.h); every command runs under a supervisor of its own (supervisor.c), so
 * that killing it reaches every process it started. As PID 1 it also reaps every orphan and
 * stops the session on SIGTERM from outside.
 *
 *   cadre-agent [--agent-uid UID] [--user USER[:GROUP]] [--listen NAME] [--root DIR] [--nofile N]
 *       PID 1 of a sandbox (or a plain process: the stub, tests). --agent-uid: the uid the agent
 *       takes for itself at once, started as root with only the capabilities it keeps. --user:
 *       the commands' identity, never the agent's own (identity.h). --listen: the socket of hosts
 *       that attach later (a path, or @abstract); as PID 1 it is DEFAULT_SOCKET unless given.
 *       --root: the directory the files operations take for "/" (the stub's scratch root); no
 *       path of theirs leads out of it (paths.h).
 *       --nofile: the open-files limit (soft and hard) of the agent and so of every command, set
 *       first, for an engine that does not set it (rootless Podman's Docker API ignores Ulimits).
 *   cadre-agent connect [--agent-uid UID] [NAME]
 *       relays stdio to the agent at NAME (default: the sandbox's own); started as root, it first
 *       makes its stdio UID's and becomes UID, with no capability left
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "exec.h"
#include "identity.h"
#include "link.h"
#include "paths.h"
#include "protocol.h"
#include "supervisor.h"

/* How long a stopping agent waits for its hosts to take their last frames. */
#define FINAL_FLUSH_MS 500

static int wake[2]; /* signal handlers write here; the loop polls it */
static volatile sig_atomic_t stopping;
static int pid1;
/* The link over the agent's own stdio; 0 once its host closed it. */
static uint32_t stdio_link;
/* A plain process without a socket has no host left once its stdio closes. */
static int stop_without_stdio;

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
  /* From a parent that ignored some (nohup), not passed on to any command (AGENT_SIGNALS). */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  int handled[] = {AGENT_HANDLED_SIGNALS};
  for (unsigned i = 0; i < sizeof handled / sizeof *handled; i++) sigaction(handled[i], &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void hello(uint32_t link) {
  uint8_t payload[sizeof PROTOCOL_NAME + 8];
  memcpy(payload, PROTOCOL_NAME, sizeof PROTOCOL_NAME);
  put_u32(payload + sizeof PROTOCOL_NAME, (uint32_t)getpid());
  put_u32(payload + sizeof PROTOCOL_NAME + 4, AGENT_FEATURES);
  link_send(link, FRAME_HELLO, 0, payload, sizeof payload);
}

/* A uid other than root's, in decimal. */
static int parse_uid(const char *text, unsigned long *uid) {
  char *end;
  *uid = strtoul(text, &end, 10);
  return *text && !*end && *uid != 0 && *uid <= 0xfffffffeUL;
}

/* Tells the host why this sandbox cannot serve, instead of HELLO, and ends with 64 + what, so
 * that a host whose engine lost the frame (Podman's attach drops what a process writes as it
 * exits) still learns the reason from the exit code. */
static int refuse(uint8_t what, const char *why) {
  uint32_t link = link_open(0, 1);
  link_send2(link, FRAME_REFUSED, 0, &what, 1, why, (uint32_t)strlen(why));
  link_flush_all(FINAL_FLUSH_MS);
  return REFUSED_EXIT_BASE + what;
}

static void on_frame(uint32_t link, const struct frame *f) {
  if (f->type == FRAME_HELLO_AGAIN && f->channel == 0) hello(link);
  else exec_frame(link, f->type, f->channel, f->payload, f->length);
}

static void on_closed(uint32_t link, const char *why) {
  (void)why;
  exec_link_closed(link);
  if (link == stdio_link) {
    /* As PID 1 the session goes on until it is stopped, for hosts that attach later. */
    stdio_link = 0;
    if (stop_without_stdio) stopping = 1;
  }
}

int main(int argc, char **argv) {
  /* First of all: from here on no process of the tenant can trace this one or read its /proc
   * files, its descriptors (the host's link) among them. The agent never execs itself. */
  prctl(PR_SET_DUMPABLE, 0);
  if (argc >= 2 && strcmp(argv[1], "connect") == 0) {
    int at = 2;
    if (argc >= 4 && strcmp(argv[2], "--agent-uid") == 0) {
      unsigned long uid;
      char why[256];
      if (!parse_uid(argv[3], &uid)) return 64;
      if (getuid() == 0 && !identity_become((uid_t)uid, 0, why, sizeof why)) {
        (void)!write(2, why, strlen(why));
        return 3;
      }
      at = 4;
    }
    return attach_connect_main(argc > at ? argv[at] : DEFAULT_SOCKET);
  }

  pid1 = getpid() == 1;
  const char *listen_name = pid1 ? DEFAULT_SOCKET : NULL;
  const char *user = NULL, *agent_uid = NULL, *root = NULL, *nofile = NULL;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return 64; /* EX_USAGE */
    if (strcmp(argv[i], "--listen") == 0) listen_name = argv[i + 1];
    else if (strcmp(argv[i], "--user") == 0) user = argv[i + 1];
    else if (strcmp(argv[i], "--agent-uid") == 0) agent_uid = argv[i + 1];
    else if (strcmp(argv[i], "--root") == 0) root = argv[i + 1];
    else if (strcmp(argv[i], "--nofile") == 0) nofile = argv[i + 1];
    else return 64;
  }
  if (nofile) {
    char *end;
    unsigned long n = strtoul(nofile, &end, 10);
    if (*end || n < 16 || n > 1048576) return 64;
    /* Lowering needs no capability; a limit above the hard one the engine gave is refused, never
     * silently left higher. */
    struct rlimit limit = {(rlim_t)n, (rlim_t)n};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
      return refuse(REFUSED_PRIVILEGES, "cannot set the open-files limit (RLIMIT_NOFILE) asked for "
                                        "with --nofile: it is above the engine's hard limit");
  }
  if (agent_uid) {
    char why[256];
    unsigned long uid;
    if (!parse_uid(agent_uid, &uid)) return 64;
    if (!identity_become((uid_t)uid, 1, why, sizeof why)) return refuse(REFUSED_PRIVILEGES, why);
  }
  if (root && paths_init(root) != 0) return 66; /* EX_NOINPUT: no such directory */
  if (user) {
    /* Before any command runs, /etc is still the image's own. */
    struct identity as;
    char why[512];
    if (!identity_resolve(user, &as, why, sizeof why)) return refuse(REFUSED_USER, why);
    if (!identity_can_switch(why, sizeof why)) return refuse(REFUSED_PRIVILEGES, why);
    exec_set_identity(&as);
  }
  /* Orphans come here when this is not PID 1 too (the stub, tests). Without that, a command's
   * double-forked child would escape to an init out of reach, and no kill could be verified:
   * such a kernel (qemu-user, gVisor) gets the agent only as PID 1. */
  if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return refuse(REFUSED_NO_SUBREAPER,
                  "this kernel has no child subreaper (PR_SET_CHILD_SUBREAPER): run the agent as "
                  "PID 1 of a PID namespace");
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return 2;
  install_handlers();
  int listen_fd = listen_name ? attach_listen(listen_name) : -1;
  if (listen_name && listen_fd < 0 && !pid1) return 3; /* asked for a socket it cannot have */
  stop_without_stdio = !pid1 && listen_fd < 0;
  stdio_link = link_open(0, 1);
  hello(stdio_link);

  static struct pollfd fds[2 + 2 * MAX_LINKS + 4 * MAX_EXECS];
  const int capacity = (int)(sizeof fds / sizeof *fds);
  while (!stopping) {
    int count = 0;
    fds[count++] = (struct pollfd){wake[0], POLLIN, 0};
    if (listen_fd >= 0) fds[count++] = (struct pollfd){listen_fd, POLLIN, 0};
    int first_link = count;
    count = link_poll_fds(fds, count, capacity);
    int first_exec = count;
    count = exec_poll_fds(fds, count, capacity);
    int ready = poll(fds, (nfds_t)count, exec_next_deadline_ms());
    if (ready < 0 && errno != EINTR) return 2;
    if (ready > 0) {
      if (fds[0].revents) {
        char drain[64];
        while (read(wake[0], drain, sizeof drain) > 0) {
        }
        /* Supervisors report through their pipes; here only the exit of every child is reaped. */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
      }
      if (listen_fd >= 0 && fds[1].revents) {
        uint32_t link = attach_accept(listen_fd);
        if (link) hello(link);
      }
      link_poll_done(fds + first_link, first_exec - first_link, on_frame, on_closed);
      exec_poll_done(fds + first_exec, count - first_exec);
    }
    exec_deadlines();
  }
  exec_kill_all();
  link_flush_all(FINAL_FLUSH_MS);
  return 0;
}
