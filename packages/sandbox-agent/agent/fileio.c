#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"

/* Directories deep a removal goes at most. */
#define MAX_REMOVE_DEPTH 256

static volatile sig_atomic_t stopping;

static void on_sigterm(int sig) {
  (void)sig;
  stopping = 1;
}

void stop_on_sigterm(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigterm; /* no SA_RESTART: a blocked read or write returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &term, NULL);
}

int write_all(int fd, const void *data, size_t size) {
  const char *at = data;
  while (size > 0) {
    if (stopping) return ECANCELED;
    ssize_t n = write(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    at += n;
    size -= (size_t)n;
  }
  return 0;
}

long read_some(int fd, void *data, size_t size) {
  for (;;) {
    if (stopping) {
      errno = ECANCELED;
      return -1;
    }
    ssize_t n = read(fd, data, size);
    if (n >= 0 || errno != EINTR) return (long)n;
  }
}

int read_exact(int fd, void *data, size_t size) {
  char *at = data;
  while (size > 0) {
    long n = read_some(fd, at, size);
    if (n < 0) return errno;
    if (n == 0) return ENODATA;
    at += n;
    size -= (size_t)n;
  }
  return 0;
}

int fail(int error, const char *step, const char *path) {
  char line[64 + 2 * 4096];
  int n = snprintf(line, sizeof line, "error errno=%d step=%s", error, step);
  if (path) {
    static const char digits[] = "0123456789abcdef";
    n += snprintf(line + n, sizeof line - (size_t)n, " path=");
    for (const unsigned char *c = (const unsigned char *)path; *c && n < (int)sizeof line - 3; c++) {
      line[n++] = digits[*c >> 4];
      line[n++] = digits[*c & 15];
    }
  }
  line[n++] = '\n';
  (void)write_all(2, line, (size_t)n);
  return 1;
}

int fail_entry(int error, const char *step, uint64_t entry) {
  dprintf(2, "error errno=%d step=%s entry=%llu\n", error, step, (unsigned long long)entry);
  return 1;
}

int parse_u64(const char *text, uint64_t *out) {
  if (!text || !*text) return EINVAL;
  uint64_t value = 0;
  for (const char *c = text; *c; c++) {
    if (*c < '0' || *c > '9') return EINVAL;
    if (value > (UINT64_MAX - (uint64_t)(*c - '0')) / 10) return EINVAL;
    value = value * 10 + (uint64_t)(*c - '0');
  }
  *out = value;
  return 0;
}

int parse_mode(const char *text, unsigned *mode, int *given) {
  if (!text || !*text) return EINVAL;
  *given = strcmp(text, "-") != 0;
  if (!*given) return 0;
  unsigned value = 0;
  for (const char *c = text; *c; c++) {
    if (*c < '0' || *c > '7') return EINVAL;
    value = value * 8 + (unsigned)(*c - '0');
    if (value > 07777) return EINVAL;
  }
  *mode = value;
  return 0;
}

int has_flag(const char *flags, char flag) { return flags && strchr(flags, flag) != NULL; }

/* Removes what `fd` (a directory open for reading) holds; pass after pass, since entries go while
 * they are read. */
static int empty_dir(int fd, int depth) {
  for (int pass = 0; pass < 8; pass++) {
    int again = 0;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = copy < 0 ? NULL : fdopendir(copy);
    if (!d) {
      if (copy >= 0) close(copy);
      return errno;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      struct stat st;
      if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      int error = S_ISDIR(st.st_mode) ? remove_tree(fd, e->d_name, depth + 1)
                  : unlinkat(fd, e->d_name, 0) == 0 ? 0
                                                     : errno;
      if (error && error != ENOENT) {
        closedir(d);
        return error;
      }
      again = 1;
    }
    closedir(d);
    if (!again) return 0;
  }
  return ENOTEMPTY;
}

int remove_tree(int dir, const char *name, int depth) {
  if (depth > MAX_REMOVE_DEPTH) return ELOOP;
  int fd = open_dir_nofollow(dir, name, 1);
  if (fd < 0) {
    /* Not a directory (any more): remove it as it is, a link as a link. */
    if (errno == ENOTDIR || errno == ELOOP) return unlinkat(dir, name, 0) == 0 ? 0 : errno;
    return errno;
  }
  int error = empty_dir(fd, depth);
  close(fd);
  if (error) return error;
  return unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : errno;
}

uint32_t random_u32(void) {
  uint32_t value;
  if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value) return value;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint32_t)now.tv_nsec ^ (uint32_t)getpid() << 16;
}
