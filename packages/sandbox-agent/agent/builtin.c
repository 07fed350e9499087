#include "builtin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "fileio.h"
#include "paths.h"
#include "records.h"
#include "sha256.h"

/* A file being written: anonymous (O_TMPFILE) until it is linked, else under a temporary name. */
struct temp {
  int fd;
  char name[64]; /* its temporary name in the directory, "" while anonymous */
};

static void temp_name(struct temp *t) {
  snprintf(t->name, sizeof t->name, ".cadre-write-%ld-%08x", (long)getpid(), random_u32());
}

/* An anonymous file vanishes with the process if the write is killed; a named one is the
 * fallback where the file system has no O_TMPFILE (gVisor's gofer, overlay on older kernels). */
static int temp_open(int dir, unsigned mode, struct temp *t) {
  t->name[0] = 0;
  t->fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
  if (t->fd >= 0) return 0;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) return errno;
  for (int i = 0; i < 16; i++) {
    temp_name(t);
    t->fd = openat(dir, t->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (t->fd >= 0) return 0;
    if (errno != EEXIST) return errno;
  }
  return EEXIST;
}

static void temp_discard(struct temp *t, int dir) {
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  if (t->name[0]) unlinkat(dir, t->name, 0);
  t->name[0] = 0;
}

/* Gives the written file its name at once: it appears whole or not at all. */
static int temp_commit(struct temp *t, int dir, const char *name, int exclusive) {
  if (!t->name[0]) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", t->fd);
    if (exclusive) return linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
    for (int i = 0;; i++) {
      temp_name(t);
      if (linkat(AT_FDCWD, proc, dir, t->name, AT_SYMLINK_FOLLOW) == 0) break;
      int error = errno;
      t->name[0] = 0;
      if (error != EEXIST || i == 15) return error;
    }
  }
  if (exclusive) {
    if (linkat(dir, t->name, dir, name, 0) != 0) return errno;
    unlinkat(dir, t->name, 0);
  } else if (renameat(dir, t->name, dir, name) != 0) {
    return errno;
  }
  t->name[0] = 0;
  return 0;
}

static int op_write(char *const argv[]) {
  uint64_t max;
  unsigned mode = 0644;
  int mode_given;
  if (!argv[1] || !argv[2] || !argv[3] || !argv[4] || argv[5] || parse_u64(argv[4], &max) ||
      parse_mode(argv[2], &mode, &mode_given))
    return fail(EINVAL, "arguments", NULL);
  int exclusive = has_flag(argv[3], 'x');
  struct place p;
  int error = paths_locate(argv[1], has_flag(argv[3], 'p') ? PATH_MAKE_PARENTS : 0, &p);
  if (error) return fail(error, "locate", NULL);
  if (!p.name[0]) error = EISDIR;
  struct stat existing;
  int exists = !error && fstatat(p.dir, p.name, &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISDIR(existing.st_mode)) error = EISDIR;
  if (exists && exclusive) error = EEXIST;
  if (error) {
    place_close(&p);
    return fail(error, "locate", NULL);
  }
  if (!mode_given && exists && S_ISREG(existing.st_mode)) mode = existing.st_mode & 07777;

  struct temp t;
  error = temp_open(p.dir, mode, &t);
  if (error) {
    place_close(&p);
    return fail(error, "create", NULL);
  }
  struct sha256 hash;
  sha256_init(&hash);
  static char buf[IO_CHUNK];
  uint64_t size = 0;
  const char *step = "write";
  for (;;) {
    long n = read_some(0, buf, sizeof buf);
    if (n < 0) {
      error = errno;
      step = "input";
    }
    if (n <= 0) break;
    size += (uint64_t)n;
    if (size > max) {
      error = EFBIG;
      break;
    }
    sha256_update(&hash, buf, (size_t)n);
    error = write_all(t.fd, buf, (size_t)n);
    if (error) break;
  }
  /* Exactly the mode asked for, whatever the umask. */
  if (!error && fchmod(t.fd, mode) != 0) error = errno, step = "chmod";
  if (!error) {
    error = temp_commit(&t, p.dir, p.name, exclusive);
    step = "rename";
  }
  temp_discard(&t, p.dir);
  place_close(&p);
  if (error) return fail(error, step, NULL);
  char digest[65];
  sha256_hex(&hash, digest);
  dprintf(2, "ok size=%llu sha256=%s\n", (unsigned long long)size, digest);
  return 0;
}

static int op_read(char *const argv[]) {
  uint64_t max;
  if (!argv[1] || !argv[2] || argv[3] || parse_u64(argv[2], &max))
    return fail(EINVAL, "arguments", NULL);
  struct place p;
  int error = paths_locate(argv[1], PATH_FOLLOW_LAST, &p);
  if (error) return fail(error, "locate", NULL);
  /* Never blocks on a FIFO or a device the tenant put there: only a regular file is read. */
  int fd = p.name[0] ? openat(p.dir, p.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) : -1;
  error = !p.name[0] ? EISDIR : fd < 0 ? errno : 0;
  place_close(&p);
  struct stat st;
  if (!error && fstat(fd, &st) != 0) error = errno;
  if (!error && S_ISDIR(st.st_mode)) error = EISDIR;
  if (!error && !S_ISREG(st.st_mode)) error = ENODEV;
  if (!error && (uint64_t)st.st_size > max) error = EFBIG;
  if (error) {
    if (fd >= 0) close(fd);
    return fail(error, "open", NULL);
  }
  struct sha256 hash;
  sha256_init(&hash);
  static char buf[IO_CHUNK];
  uint64_t size = 0;
  const char *step = "read";
  for (;;) {
    long n = read_some(fd, buf, sizeof buf);
    if (n < 0) error = errno;
    if (n <= 0) break;
    size += (uint64_t)n;
    if (size > max) {
      error = EFBIG; /* it grew while read */
      break;
    }
    sha256_update(&hash, buf, (size_t)n);
    error = write_all(1, buf, (size_t)n);
    if (error) {
      step = "output";
      break;
    }
  }
  close(fd);
  if (error) return fail(error, step, NULL);
  char digest[65];
  sha256_hex(&hash, digest);
  dprintf(2, "ok size=%llu sha256=%s\n", (unsigned long long)size, digest);
  return 0;
}

/* One record with its name and link target on stdout, for the entry `name` of `dir` ("" : dir). */
static int emit_entry(int dir, const char *name) {
  struct stat st;
  if ((name[0] ? fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) : fstat(dir, &st)) != 0) return errno;
  struct record r;
  record_of(&st, &r);
  char target[4096];
  ssize_t link = 0;
  if (S_ISLNK(st.st_mode)) {
    link = readlinkat(dir, name, target, sizeof target);
    if (link < 0) return errno;
  }
  r.name_length = (uint16_t)strlen(name);
  r.link_length = (uint16_t)link;
  uint8_t header[RECORD_HEADER];
  record_encode(&r, header);
  int error = write_all(1, header, sizeof header);
  if (!error) error = write_all(1, name, r.name_length);
  if (!error) error = write_all(1, target, (size_t)link);
  return error;
}

static int op_stat(char *const argv[]) {
  if (!argv[1] || !argv[2] || argv[3]) return fail(EINVAL, "arguments", NULL);
  struct place p;
  int error = paths_locate(argv[1], strcmp(argv[2], "1") == 0 ? PATH_FOLLOW_LAST : 0, &p);
  if (error) return fail(error, "locate", NULL);
  error = emit_entry(p.dir, p.name);
  place_close(&p);
  if (error) return fail(error, "stat", NULL);
  dprintf(2, "ok\n");
  return 0;
}

static int op_list(char *const argv[]) {
  uint64_t max;
  if (!argv[1] || !argv[2] || argv[3] || parse_u64(argv[2], &max))
    return fail(EINVAL, "arguments", NULL);
  struct place p;
  int error = paths_locate(argv[1], PATH_FOLLOW_LAST, &p);
  if (error) return fail(error, "locate", NULL);
  int fd = p.name[0] ? open_dir_nofollow(p.dir, p.name, 1)
                     : openat(p.dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  error = fd < 0 ? errno : 0;
  place_close(&p);
  DIR *d = error ? NULL : fdopendir(fd);
  if (!d) {
    if (!error) error = errno;
    if (fd >= 0) close(fd);
    return fail(error, "open", NULL);
  }
  uint64_t count = 0;
  int truncated = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (count == max) {
      truncated = 1;
      break;
    }
    int lost = emit_entry(dirfd(d), e->d_name);
    if (lost == ENOENT) continue; /* removed meanwhile */
    if (lost) {
      closedir(d);
      return fail(lost, "stat", e->d_name);
    }
    count++;
  }
  closedir(d);
  dprintf(2, "ok entries=%llu truncated=%d\n", (unsigned long long)count, truncated);
  return 0;
}

static int op_remove(char *const argv[]) {
  if (!argv[1] || !argv[2] || argv[3]) return fail(EINVAL, "arguments", NULL);
  struct place p;
  int error = paths_locate(argv[1], 0, &p);
  if (error == ENOENT && has_flag(argv[2], 'f')) goto done;
  if (error) return fail(error, "locate", NULL);
  struct stat st;
  if (!p.name[0]) error = EBUSY; /* the root, or a path ending in ".." */
  else if (fstatat(p.dir, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0) error = errno;
  else if (!S_ISDIR(st.st_mode)) error = unlinkat(p.dir, p.name, 0) == 0 ? 0 : errno;
  else if (has_flag(argv[2], 'r')) error = remove_tree(p.dir, p.name, 0);
  else error = unlinkat(p.dir, p.name, AT_REMOVEDIR) == 0 ? 0 : errno;
  place_close(&p);
  if (error == ENOENT && has_flag(argv[2], 'f')) error = 0;
  if (error) return fail(error, "remove", NULL);
done:
  dprintf(2, "ok\n");
  return 0;
}

static int op_rename(char *const argv[]) {
  if (!argv[1] || !argv[2] || !argv[3] || argv[4]) return fail(EINVAL, "arguments", NULL);
  struct place from, to;
  int error = paths_locate(argv[1], 0, &from);
  if (error) return fail(error, "locate", NULL);
  error = paths_locate(argv[2], has_flag(argv[3], 'p') ? PATH_MAKE_PARENTS : 0, &to);
  if (error) {
    place_close(&from);
    return fail(error, "locate-target", NULL);
  }
  if (!from.name[0] || !to.name[0]) error = EBUSY;
  else if (renameat(from.dir, from.name, to.dir, to.name) != 0) error = errno;
  place_close(&from);
  place_close(&to);
  if (error) return fail(error, "rename", NULL);
  dprintf(2, "ok\n");
  return 0;
}

static int op_mkdir(char *const argv[]) {
  unsigned mode = 0755;
  int mode_given;
  if (!argv[1] || !argv[2] || !argv[3] || argv[4] || parse_mode(argv[2], &mode, &mode_given))
    return fail(EINVAL, "arguments", NULL);
  int parents = has_flag(argv[3], 'p');
  struct place p;
  int error = paths_locate(argv[1], parents ? PATH_MAKE_PARENTS : 0, &p);
  if (error) return fail(error, "locate", NULL);
  struct stat st;
  if (!p.name[0]) error = parents ? 0 : EEXIST;
  else if (mkdirat(p.dir, p.name, mode) != 0) {
    error = errno;
    /* With parents, a directory that is there already is what was asked for. */
    if (error == EEXIST && parents && fstatat(p.dir, p.name, &st, 0) == 0 && S_ISDIR(st.st_mode))
      error = 0;
  }
  place_close(&p);
  if (error) return fail(error, "mkdir", NULL);
  dprintf(2, "ok\n");
  return 0;
}

int builtin_run(char *const argv[]) {
  stop_on_sigterm();
  /* Modes are exactly those asked for. */
  umask(0);
  static const struct {
    const char *name;
    int (*run)(char *const argv[]);
  } ops[] = {{"write", op_write},   {"read", op_read},       {"stat", op_stat},
             {"list", op_list},     {"remove", op_remove},   {"rename", op_rename},
             {"mkdir", op_mkdir},   {"extract", op_extract}, {"archive", op_archive}};
  for (unsigned i = 0; i < sizeof ops / sizeof *ops; i++)
    if (argv[0] && strcmp(argv[0], ops[i].name) == 0) return ops[i].run(argv);
  return fail(ENOSYS, "operation", NULL);
}
