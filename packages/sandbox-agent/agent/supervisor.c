#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builtin.h"
#include "paths.h"
#include "tree.h"

static void report(int fd, uint32_t kind, int32_t value, uint32_t survivors) {
  struct report r = {kind, value, survivors};
  while (write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

/* Closes every descriptor from `low` up: close_range where the kernel has it, else those that
 * /proc/self/fd lists (gVisor has no close_range, and closing every possible number one by one
 * cost seconds there). */
static void close_from(int low) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)low, ~0U, 0) == 0) return;
#endif
  int open_fds[1024];
  int count = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) {
    for (int fd = low; fd < 4096; fd++) close(fd);
    return;
  }
  int own = dirfd(dir);
  struct dirent *entry;
  while ((entry = readdir(dir)) && count < 1024) {
    int fd = atoi(entry->d_name);
    if (fd >= low && fd != own) open_fds[count++] = fd;
  }
  closedir(dir);
  for (int i = 0; i < count; i++) close(open_fds[i]);
}

/* Moves the four descriptors the supervisor keeps to 3..6, and the files root (close-on-exec, for
 * a builtin) to 7, and closes all others: the host link and every other exec's pipes stay with
 * the agent. */
static void keep_only(const struct launch *in, int out[4]) {
  int src[4] = {in->stdin_fd, in->stdout_fd, in->stderr_fd, in->report_fd};
  int tmp[4];
  /* The system call itself: musl's fcntl adds an F_SETFD for kernels older than 2.6.24, one more
   * call each, which costs under gVisor. */
  for (int i = 0; i < 4; i++) tmp[i] = (int)syscall(SYS_fcntl, src[i], F_DUPFD_CLOEXEC, 64);
  int root = paths_root_fd() >= 0 ? (int)syscall(SYS_fcntl, paths_root_fd(), F_DUPFD_CLOEXEC, 64) : -1;
  for (int i = 0; i < 4; i++) {
    out[i] = 3 + i;
    dup3(tmp[i], out[i], O_CLOEXEC);
  }
  if (root >= 0) {
    dup3(root, 7, O_CLOEXEC);
    paths_move_root_fd(7);
  }
  close_from(root >= 0 ? 8 : 7);
  int null = open("/dev/null", O_RDWR); /* closed below, before any exec */
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  if (null > 2) close(null);
}

/* Where execvp looks: the command's own PATH, as a shell would use it. */
static void use_path_of(char *const *envp) {
  for (char *const *e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) {
      setenv("PATH", *e + 5, 1);
      return;
    }
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
}

/* In the command's process: its stdio, its directory, its environment, then exec. */
static void start_command(const struct launch *launch, const int fds[4], int errno_fd)
    __attribute__((noreturn));
static void start_command(const struct launch *launch, const int fds[4], int errno_fd) {
  sigset_t none;
  sigemptyset(&none);
  int changed[] = AGENT_SIGNALS;
  for (unsigned i = 0; i < sizeof changed / sizeof *changed; i++) signal(changed[i], SIG_DFL);
  /* A files operation takes SIGTERM as its cue to clean up; it stays blocked until its handler
   * is in place (builtin_run). */
  if (launch->builtin) sigaddset(&none, SIGTERM);
  sigprocmask(SIG_SETMASK, &none, NULL);
  prctl(PR_SET_PDEATHSIG, 0);
  setsid();
  for (int i = 0; i < 3; i++) dup2(fds[i], i); /* dup2 clears close-on-exec */
  /* A process on a terminal: it is the session's controlling terminal, as a login shell's is. */
  if (launch->pty) ioctl(0, TIOCSCTTY, 0);
  int failed = identity_apply(launch->identity);
  if (!failed && launch->cwd[0] && chdir(launch->cwd) != 0) failed = errno;
  if (!failed && launch->builtin) {
    close(errno_fd); /* started: no exec will close it */
    _exit(builtin_run(launch->argv));
  }
  if (!failed) {
    use_path_of(launch->envp);
    /* Searches the PATH just set, as a shell would. */
    execvpe(launch->argv[0], launch->argv, launch->envp);
    failed = errno;
  }
  while (write(errno_fd, &failed, sizeof failed) < 0 && errno == EINTR) {
  }
  _exit(127);
}

void supervise(const struct launch *launch) {
  int fds[4];
  keep_only(launch, fds);
  int report_fd = fds[3];
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* If the agent dies, so does the supervisor; its tree then comes back to PID 1's sweep. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* Not traceable, and its /proc entries not readable, by the tenant's processes. */
  prctl(PR_SET_DUMPABLE, 0);

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, SIGUSR1);
  sigprocmask(SIG_BLOCK, &wanted, NULL);

  int errno_pipe[2];
  if (pipe2(errno_pipe, O_CLOEXEC) != 0) {
    report(report_fd, REPORT_START_FAILED, errno, 0);
    _exit(0);
  }
  pid_t command = fork();
  if (command < 0) {
    report(report_fd, REPORT_START_FAILED, errno, 0);
    _exit(0);
  }
  if (command == 0) {
    close(errno_pipe[0]);
    start_command(launch, fds, errno_pipe[1]);
  }
  close(errno_pipe[1]);
  for (int i = 0; i < 3; i++) close(fds[i]);
  int start_errno = 0;
  ssize_t got;
  while ((got = read(errno_pipe[0], &start_errno, sizeof start_errno)) < 0 && errno == EINTR) {
  }
  close(errno_pipe[0]);
  if (got == (ssize_t)sizeof start_errno) {
    waitpid(command, NULL, 0);
    report(report_fd, REPORT_START_FAILED, start_errno, 0);
    _exit(0);
  }
  report(report_fd, REPORT_STARTED, command, 0);

  int command_done = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&wanted, &info);
    if (sig == SIGUSR1 && info.si_pid == getppid()) {
      if (launch->builtin && !command_done) {
        /* A files operation first removes what it had begun (it runs no other process). */
        kill(command, SIGTERM);
        struct timespec budget = {BUILTIN_CLEANUP_MS / 1000, (BUILTIN_CLEANUP_MS % 1000) * 1000000L};
        sigset_t child;
        sigemptyset(&child);
        sigaddset(&child, SIGCHLD);
        while (waitpid(command, NULL, WNOHANG) == 0 && sigtimedwait(&child, NULL, &budget) > 0) {
        }
      }
      uint32_t left = kill_below(getpid(), KILL_BUDGET_MS, NULL, 0);
      report(report_fd, REPORT_KILLED, left == 0, left);
      _exit(0);
    }
    if (sig != SIGCHLD) continue;
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        if (pid == command) {
          command_done = 1;
          report(report_fd, REPORT_EXITED, status, 0);
        }
        continue;
      }
      /* No child left: the command and everything it started are gone. */
      if (pid < 0 && errno == ECHILD && command_done) _exit(0);
      break;
    }
  }
}
