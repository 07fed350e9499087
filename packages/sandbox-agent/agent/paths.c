#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links one resolution follows at most, as Linux's MAXSYMLINKS. */
#define MAX_LINKS 40
/* Directories deep one resolution may go. */
#define MAX_DEPTH 512
/* A path, with what the links it met put in front of its rest. */
#define PENDING_MAX (2 * PATH_MAX)

static int root_fd = -1;

int paths_init(const char *root) {
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  if (root_fd >= 0) close(root_fd);
  root_fd = fd;
  return 0;
}

int paths_root_fd(void) { return root_fd; }

void paths_move_root_fd(int fd) { root_fd = fd; }

int open_dir_nofollow(int dir, const char *name, int for_reading) {
  int fd = openat(dir, name, (for_reading ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  /* O_PATH | O_NOFOLLOW can open a symbolic link itself: make sure this is a directory. */
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    close(fd);
    errno = ENOTDIR;
    return -1;
  }
  return fd;
}

void place_close(struct place *place) {
  if (place->dir >= 0) close(place->dir);
  place->dir = -1;
}

struct walk {
  int stack[MAX_DEPTH]; /* stack[0] is the root, never closed here */
  int depth;
};

static int top(const struct walk *w) { return w->depth == 0 ? root_fd : w->stack[w->depth]; }

static void pop(struct walk *w) {
  if (w->depth > 0) close(w->stack[w->depth--]);
}

static void unwind(struct walk *w) {
  while (w->depth > 0) pop(w);
}

static int push(struct walk *w, int fd) {
  if (w->depth + 1 >= MAX_DEPTH) {
    close(fd);
    return ENAMETOOLONG;
  }
  w->stack[++w->depth] = fd;
  return 0;
}

/* Puts `target` (a link's text) in front of `rest` in `pending`. */
static int put_in_front(char *pending, const char *target, const char *rest) {
  size_t t = strlen(target), r = strlen(rest);
  if (t + 1 + r + 1 > PENDING_MAX) return ENAMETOOLONG;
  char joined[PENDING_MAX];
  memcpy(joined, target, t);
  joined[t] = '/';
  memcpy(joined + t + 1, rest, r + 1);
  memcpy(pending, joined, t + 1 + r + 1);
  return 0;
}

static int found(struct walk *w, const char *name, struct place *out) {
  out->dir = fcntl(top(w), F_DUPFD_CLOEXEC, 0);
  int error = out->dir < 0 ? errno : 0;
  if (!error) strcpy(out->name, name);
  unwind(w);
  return error;
}

int paths_locate(const char *path, int flags, struct place *out) {
  out->dir = -1;
  out->name[0] = 0;
  if (root_fd < 0) {
    int error = paths_init("/");
    if (error) return error;
  }
  if (path[0] != '/') return EINVAL;
  if (strlen(path) >= PATH_MAX) return ENAMETOOLONG;
  char pending[PENDING_MAX];
  strcpy(pending, path);
  struct walk w = {.depth = 0};
  int links = 0;
  const char *at = pending;
  for (;;) {
    while (*at == '/') at++;
    if (!*at) return found(&w, "", out);
    const char *end = strchrnul(at, '/');
    size_t length = (size_t)(end - at);
    if (length > NAME_MAX) {
      unwind(&w);
      return ENAMETOOLONG;
    }
    char name[NAME_MAX + 1];
    memcpy(name, at, length);
    name[length] = 0;
    const char *rest = end;
    while (*rest == '/') rest++;
    int last = *rest == 0;
    at = rest;
    if (strcmp(name, ".") == 0) continue;
    if (strcmp(name, "..") == 0) {
      pop(&w); /* never above the root */
      continue;
    }
    if (last && !(flags & PATH_FOLLOW_LAST)) return found(&w, name, out);

    struct stat st;
    if (fstatat(top(&w), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      int error = errno;
      if (error == ENOENT && last) return found(&w, name, out); /* to be made, or not there */
      if (error != ENOENT || !(flags & PATH_MAKE_PARENTS)) {
        unwind(&w);
        return error;
      }
      if (mkdirat(top(&w), name, 0755) != 0 && errno != EEXIST) {
        error = errno;
        unwind(&w);
        return error;
      }
      if (fstatat(top(&w), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        error = errno;
        unwind(&w);
        return error;
      }
    }
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ++links > MAX_LINKS ? -1 : readlinkat(top(&w), name, target, sizeof target - 1);
      int error = links > MAX_LINKS ? ELOOP : n < 0 ? errno : n == 0 ? ENOENT : 0;
      if (!error) {
        target[n] = 0;
        if (target[0] == '/') unwind(&w); /* absolute: from the root again */
        error = put_in_front(pending, target, rest);
      }
      if (error) {
        unwind(&w);
        return error;
      }
      at = pending;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (last) return found(&w, name, out);
      unwind(&w);
      return ENOTDIR;
    }
    int fd = open_dir_nofollow(top(&w), name, 0);
    int error = fd < 0 ? errno : push(&w, fd);
    if (error) {
      unwind(&w);
      return error;
    }
  }
}
