#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct proc {
  pid_t pid, ppid;
  char state;
  unsigned long long start; /* clock ticks after boot */
};

/* Parent and state of `pid` from /proc/<pid>/stat; 0 when it is gone. The command name may hold
 * any byte: the fields follow its last ") ". */
static int read_stat(pid_t pid, struct proc *out) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *end = strrchr(buf, ')');
  if (!end || end[1] != ' ') return 0;
  out->pid = pid;
  out->state = end[2];
  out->ppid = (pid_t)strtol(end + 4, NULL, 10);
  /* starttime is field 22; the fields after ") " start at field 3. */
  const char *field = end + 2;
  for (int i = 3; i < 22 && field; i++) {
    field = strchr(field, ' ');
    if (field) field++;
  }
  out->start = field ? strtoull(field, NULL, 10) : 0;
  return 1;
}

/* Every process there is, into a growing array. */
static struct proc *snapshot(size_t *count) {
  size_t cap = 256, n = 0;
  struct proc *all = malloc(cap * sizeof *all);
  DIR *dir = opendir("/proc");
  if (!all || !dir) {
    if (dir) closedir(dir);
    free(all);
    *count = 0;
    return NULL;
  }
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    char *rest;
    long pid = strtol(entry->d_name, &rest, 10);
    if (*rest || pid <= 0) continue;
    if (n == cap) {
      struct proc *grown = realloc(all, (cap *= 2) * sizeof *all);
      if (!grown) break;
      all = grown;
    }
    if (read_stat((pid_t)pid, &all[n])) n++;
  }
  closedir(dir);
  *count = n;
  return all;
}

static const struct proc *find_proc(const struct proc *all, size_t n, pid_t pid) {
  for (size_t i = 0; i < n; i++)
    if (all[i].pid == pid) return &all[i];
  return NULL;
}

/* The child of `root` that `pid` descends from (`pid` itself when it is root's child), or NULL
 * when `pid` is not below root. Bounded: no cycle can hold us. */
static const struct proc *top_below(const struct proc *all, size_t n, pid_t pid, pid_t root) {
  const struct proc *p = find_proc(all, n, pid);
  for (int depth = 0; p && depth < 4096; depth++) {
    if (p->ppid == root) return p;
    if (p->ppid <= 1) return NULL;
    p = find_proc(all, n, p->ppid);
  }
  return NULL;
}

int proc_parent(pid_t pid, pid_t *parent) {
  struct proc p;
  if (!read_stat(pid, &p)) return 0;
  *parent = p.ppid;
  return 1;
}

unsigned long long start_ticks(pid_t pid) {
  struct proc p;
  return read_stat(pid, &p) ? p.start : 0;
}

uint32_t kill_below(pid_t root, int budget_ms, int (*keep)(pid_t), unsigned long long since) {
  int64_t give_up = now_ms() + budget_ms;
  uint32_t alive = 0;
  for (;;) {
    size_t n;
    struct proc *all = snapshot(&n);
    alive = 0;
    for (size_t i = 0; i < n; i++) {
      if (all[i].pid == root || all[i].state == 'Z' || all[i].state == 'X') continue;
      const struct proc *top = top_below(all, n, all[i].pid, root);
      if (!top || (keep && keep(top->pid)) || top->start < since) continue;
      kill(all[i].pid, SIGKILL);
      alive++;
    }
    free(all);
    /* Reap what has died among root's own children; the rest come back to it as orphans. */
    if (root == getpid()) {
      int status;
      while (waitpid(-1, &status, WNOHANG) > 0) {
      }
    }
    if (alive == 0 || now_ms() >= give_up) return alive;
    struct timespec pause = {0, 500000};
    nanosleep(&pause, NULL);
  }
}
