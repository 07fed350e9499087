#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "paths.h"
#include "records.h"
#include "sha256.h"

/* Directories deep an archive or an extraction goes at most. */
#define MAX_TREE_DEPTH 256
#define MAX_RELATIVE 4096

/* ---- extract ---- */

/* A directory an extraction made, to get its mode and time once everything below it is in. */
struct made_dir {
  char *path;
  unsigned mode;
  int64_t sec;
  uint32_t nsec;
  int depth;
};

struct extraction {
  int staging;    /* O_PATH descriptor of the staging directory */
  struct made_dir *dirs;
  size_t dir_count, dir_cap;
  struct sha256 hash;
  uint64_t bytes, max_bytes;
};

/*
 * `name` made relative and plain: no leading "/", no "." components, no "..", no empty name.
 * Returns the cleaned name's depth (components), 0 for the archive's top itself ("."), or -1 when
 * it would escape.
 */
static int clean_name(char *name) {
  char out[MAX_RELATIVE];
  size_t n = 0;
  int depth = 0;
  if (name[0] == '/') return -1;
  for (char *at = name; *at;) {
    char *end = strchrnul(at, '/');
    size_t length = (size_t)(end - at);
    if (length == 2 && at[0] == '.' && at[1] == '.') return -1;
    if (length > 0 && !(length == 1 && at[0] == '.')) {
      if (n) out[n++] = '/';
      memcpy(out + n, at, length);
      n += length;
      depth++;
    }
    at = *end ? end + 1 : end;
  }
  out[n] = 0;
  memcpy(name, out, n + 1);
  return depth;
}

/* Whether a symbolic link at `name` (clean) pointing to `target` stays inside the archive's top. */
static int link_stays_inside(const char *name, const char *target) {
  if (target[0] == '/' || !target[0]) return 0;
  int depth = 0;
  for (const char *c = name; *c; c++)
    if (*c == '/') depth++; /* the link's directory is this deep */
  for (const char *at = target; *at;) {
    const char *end = strchrnul(at, '/');
    size_t length = (size_t)(end - at);
    if (length == 2 && at[0] == '.' && at[1] == '.') {
      if (--depth < 0) return 0;
    } else if (length > 0 && !(length == 1 && at[0] == '.')) {
      depth++;
    }
    at = *end ? end + 1 : end;
  }
  return 1;
}

/*
 * The directory below `base` that holds the last component of `name` (clean), made where missing
 * (0755, as an archive that implies a directory without listing it gets it), never through a
 * symbolic link. Returns an O_PATH descriptor or -1 with errno; `last` points at the last
 * component.
 */
static int parent_of(int base, char *name, const char **last) {
  int dir = fcntl(base, F_DUPFD_CLOEXEC, 0);
  char *at = name;
  for (char *slash; dir >= 0 && (slash = strchr(at, '/'));) {
    *slash = 0;
    if (mkdirat(dir, at, 0755) != 0 && errno != EEXIST) {
      int error = errno;
      close(dir);
      *slash = '/';
      errno = error;
      return -1;
    }
    int next = open_dir_nofollow(dir, at, 0);
    int error = errno;
    close(dir);
    *slash = '/';
    if (next < 0) {
      errno = error;
      return -1;
    }
    dir = next;
    at = slash + 1;
  }
  *last = at;
  return dir;
}

/* Removes what is at `name` in `dir` unless it is a directory, so a later record replaces it. */
static int clear_for(int dir, const char *name) {
  if (unlinkat(dir, name, 0) == 0 || errno == ENOENT) return 0;
  return errno == EISDIR || errno == EPERM ? EISDIR : errno;
}

static int extract_file(struct extraction *x, char *name, const struct record *r) {
  const char *last;
  int dir = parent_of(x->staging, name, &last);
  if (dir < 0) return errno;
  int error = clear_for(dir, last);
  int fd = error ? -1 : openat(dir, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (!error && fd < 0) error = errno;
  static char buf[IO_CHUNK];
  for (uint64_t left = r->size; !error && left > 0;) {
    size_t take = left < sizeof buf ? (size_t)left : sizeof buf;
    error = read_exact(0, buf, take);
    if (!error) {
      sha256_update(&x->hash, buf, take);
      error = write_all(fd, buf, take);
    }
    left -= take;
  }
  if (!error && fchmod(fd, r->mode) != 0) error = errno;
  if (!error && r->mtime_sec) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {r->mtime_sec, r->mtime_nsec}};
    futimens(fd, times);
  }
  if (fd >= 0) close(fd);
  close(dir);
  return error;
}

static int extract_dir(struct extraction *x, char *name, const struct record *r, int depth) {
  const char *last;
  int dir = parent_of(x->staging, name, &last);
  if (dir < 0) return errno;
  int error = mkdirat(dir, last, 0700) == 0 || errno == EEXIST ? 0 : errno;
  if (!error) {
    int check = open_dir_nofollow(dir, last, 0);
    if (check < 0) error = errno; /* a file or a link there already */
    else close(check);
  }
  close(dir);
  if (error) return error;
  if (x->dir_count == x->dir_cap) {
    size_t cap = x->dir_cap ? x->dir_cap * 2 : 64;
    struct made_dir *grown = realloc(x->dirs, cap * sizeof *grown);
    if (!grown) return ENOMEM;
    x->dirs = grown;
    x->dir_cap = cap;
  }
  char *copy = strdup(name);
  if (!copy) return ENOMEM;
  x->dirs[x->dir_count++] = (struct made_dir){copy, r->mode, r->mtime_sec, r->mtime_nsec, depth};
  return 0;
}

static int extract_link(struct extraction *x, char *name, const char *target) {
  if (!link_stays_inside(name, target)) return EXDEV;
  const char *last;
  int dir = parent_of(x->staging, name, &last);
  if (dir < 0) return errno;
  int error = clear_for(dir, last);
  if (!error && symlinkat(target, dir, last) != 0) error = errno;
  close(dir);
  return error;
}

static int deeper_first(const void *a, const void *b) {
  return ((const struct made_dir *)b)->depth - ((const struct made_dir *)a)->depth;
}

/* The directories' own modes and times, deepest first, once nothing more goes into them. */
static int finish_dirs(struct extraction *x) {
  qsort(x->dirs, x->dir_count, sizeof *x->dirs, deeper_first);
  for (size_t i = 0; i < x->dir_count; i++) {
    struct made_dir *d = &x->dirs[i];
    const char *last;
    int parent = parent_of(x->staging, d->path, &last);
    int fd = parent < 0 ? -1 : open_dir_nofollow(parent, last, 1);
    int error = fd < 0 ? errno : 0;
    if (!error && d->sec) {
      struct timespec times[2] = {{0, UTIME_OMIT}, {d->sec, (long)d->nsec}};
      futimens(fd, times);
    }
    if (!error && fchmod(fd, d->mode) != 0) error = errno;
    if (fd >= 0) close(fd);
    if (parent >= 0) close(parent);
    if (error) return error;
  }
  return 0;
}

/*
 * Moves what `from` holds into `to`: what `to` lacks is renamed in whole; a directory that both
 * have is merged; a file or link replaces what is there, unless that is a directory.
 */
static int merge(int from, int to, int depth) {
  if (depth > MAX_TREE_DEPTH) return ELOOP;
  for (int pass = 0; pass < 8; pass++) {
    int copy = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = copy < 0 ? NULL : fdopendir(copy);
    if (!d) {
      if (copy >= 0) close(copy);
      return errno;
    }
    int moved = 0, error = 0;
    struct dirent *e;
    while (!error && (e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      moved = 1;
      struct stat src, dst;
      if (fstatat(from, e->d_name, &src, AT_SYMLINK_NOFOLLOW) != 0) {
        error = errno;
        break;
      }
      int exists = fstatat(to, e->d_name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
      if (exists && S_ISDIR(src.st_mode) && S_ISDIR(dst.st_mode)) {
        int a = open_dir_nofollow(from, e->d_name, 0), b = open_dir_nofollow(to, e->d_name, 0);
        error = a < 0 || b < 0 ? errno : merge(a, b, depth + 1);
        if (a >= 0) close(a);
        if (b >= 0) close(b);
        if (!error && unlinkat(from, e->d_name, AT_REMOVEDIR) != 0) error = errno;
      } else if (exists && S_ISDIR(dst.st_mode)) {
        error = EISDIR;
      } else {
        if (exists && S_ISDIR(src.st_mode) && unlinkat(to, e->d_name, 0) != 0) error = errno;
        if (!error && renameat(from, e->d_name, to, e->d_name) != 0) error = errno;
      }
    }
    closedir(d);
    if (error || !moved) return error;
  }
  return ENOTEMPTY;
}

static int extract_records(struct extraction *x, uint64_t max_entries, uint64_t *index) {
  for (*index = 0;; (*index)++) {
    uint8_t header[RECORD_HEADER];
    long n = read_some(0, header, 1);
    if (n == 0) return 0; /* the end, between two records */
    if (n < 0) return errno;
    int error = read_exact(0, header + 1, sizeof header - 1);
    struct record r;
    if (!error) error = record_decode(header, &r);
    if (error) return error;
    if (*index >= max_entries) return E2BIG;
    if (r.name_length == 0 || r.name_length >= MAX_RELATIVE || r.link_length >= MAX_RELATIVE ||
        (r.kind != 'l' && r.link_length) || (r.kind != 'f' && r.size))
      return EINVAL;
    char name[MAX_RELATIVE], target[MAX_RELATIVE];
    error = read_exact(0, name, r.name_length);
    if (!error) error = read_exact(0, target, r.link_length);
    if (error) return error;
    name[r.name_length] = 0;
    target[r.link_length] = 0;
    if (strlen(name) != r.name_length || strlen(target) != r.link_length) return EINVAL;
    int depth = clean_name(name);
    if (depth < 0) return EXDEV;
    if (r.kind == 'f') {
      if (r.size > x->max_bytes - x->bytes) return EFBIG;
      x->bytes += r.size;
    }
    if (depth == 0) {
      if (r.kind == 'd') continue; /* the top itself: the target directory stays as it is */
      return EINVAL;
    }
    error = r.kind == 'f'   ? extract_file(x, name, &r)
            : r.kind == 'd' ? extract_dir(x, name, &r, depth)
                            : extract_link(x, name, target);
    if (error) return error;
  }
}

int op_extract(char *const argv[]) {
  uint64_t max_bytes, max_entries;
  if (!argv[1] || !argv[2] || !argv[3] || !argv[4] || argv[5] || parse_u64(argv[3], &max_bytes) ||
      parse_u64(argv[4], &max_entries))
    return fail(EINVAL, "arguments", NULL);
  int parents = has_flag(argv[2], 'p');
  struct place p;
  int error = paths_locate(argv[1], PATH_FOLLOW_LAST | (parents ? PATH_MAKE_PARENTS : 0), &p);
  if (error) return fail(error, "locate", NULL);
  if (p.name[0] && parents && mkdirat(p.dir, p.name, 0755) != 0 && errno != EEXIST) error = errno;
  int target = error ? -1
               : p.name[0] ? open_dir_nofollow(p.dir, p.name, 0)
                           : fcntl(p.dir, F_DUPFD_CLOEXEC, 0);
  if (!error && target < 0) error = errno;
  place_close(&p);
  if (error) return fail(error, "target", NULL);

  char staging_name[64];
  snprintf(staging_name, sizeof staging_name, ".cadre-upload-%ld-%08x", (long)getpid(), random_u32());
  if (mkdirat(target, staging_name, 0700) != 0) {
    error = errno;
    close(target);
    return fail(error, "staging", NULL);
  }
  struct extraction x = {.staging = open_dir_nofollow(target, staging_name, 0), .max_bytes = max_bytes};
  sha256_init(&x.hash);
  uint64_t index = 0;
  const char *step = "record";
  if (x.staging < 0) error = errno, step = "staging";
  if (!error) error = extract_records(&x, max_entries, &index);
  if (!error) error = finish_dirs(&x), step = "modes";
  if (!error) {
    /* Checked whole: only now does anything of it appear in the target. */
    int from = openat(x.staging, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    error = from < 0 ? errno : merge(from, target, 0);
    if (from >= 0) close(from);
    step = "merge";
  }
  if (x.staging >= 0) close(x.staging);
  int left = remove_tree(target, staging_name, 0);
  close(target);
  for (size_t i = 0; i < x.dir_count; i++) free(x.dirs[i].path);
  free(x.dirs);
  if (!error) error = left, step = "cleanup";
  if (error) return fail_entry(error, step, index);
  char digest[65];
  sha256_hex(&x.hash, digest);
  dprintf(2, "ok entries=%llu size=%llu sha256=%s\n", (unsigned long long)index,
          (unsigned long long)x.bytes, digest);
  return 0;
}

/* ---- archive ---- */

struct archiving {
  struct sha256 hash;
  uint64_t bytes, max_bytes, entries, max_entries, changed, skipped;
  const char *failed_path; /* the relative path a failure concerns */
  char failed[MAX_RELATIVE];
};

static int failed_at(struct archiving *a, const char *path, int error) {
  snprintf(a->failed, sizeof a->failed, "%s", path);
  a->failed_path = a->failed;
  return error;
}

static int emit_header(const struct stat *st, const char *path, const char *target, size_t link) {
  struct record r;
  record_of(st, &r);
  r.name_length = (uint16_t)strlen(path);
  r.link_length = (uint16_t)link;
  uint8_t header[RECORD_HEADER];
  record_encode(&r, header);
  int error = write_all(1, header, sizeof header);
  if (!error) error = write_all(1, path, r.name_length);
  if (!error && link) error = write_all(1, target, link);
  return error;
}

/* One entry of `dir` at the archive's relative `path`, and everything below it. */
static int archive_entry(struct archiving *a, int dir, const char *name, const char *path, int depth);

static int archive_dir_contents(struct archiving *a, int fd, const char *path, int depth) {
  if (depth > MAX_TREE_DEPTH) return failed_at(a, path, ELOOP);
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return failed_at(a, path, errno);
  }
  int error = 0;
  struct dirent *e;
  while (!error && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char child[MAX_RELATIVE];
    if ((size_t)snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= sizeof child)
      error = failed_at(a, path, ENAMETOOLONG);
    else
      error = archive_entry(a, dirfd(d), e->d_name, child, depth + 1);
  }
  closedir(d);
  return error;
}

static int archive_file(struct archiving *a, int dir, const char *name, const char *path) {
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int error = errno;
    if (fd >= 0) close(fd);
    return error == ENOENT ? 0 : failed_at(a, path, error); /* removed meanwhile */
  }
  if (!S_ISREG(st.st_mode)) { /* swapped meanwhile for something else */
    close(fd);
    a->skipped++;
    return 0;
  }
  uint64_t size = (uint64_t)st.st_size;
  if (size > a->max_bytes - a->bytes) {
    close(fd);
    return failed_at(a, path, EFBIG);
  }
  a->bytes += size;
  int error = emit_header(&st, path, NULL, 0);
  static char buf[IO_CHUNK];
  /* Exactly the size announced: what grew meanwhile is left out, what shrank is made up with
   * zeros (and counted as changed). */
  int short_read = 0;
  for (uint64_t left = size; !error && left > 0;) {
    size_t take = left < sizeof buf ? (size_t)left : sizeof buf;
    long n = short_read ? 0 : read_some(fd, buf, take);
    if (n < 0) {
      error = failed_at(a, path, errno);
      break;
    }
    if (n == 0) {
      short_read = 1;
      memset(buf, 0, take);
      n = (long)take;
    }
    sha256_update(&a->hash, buf, (size_t)n);
    error = write_all(1, buf, (size_t)n);
    left -= (uint64_t)n;
  }
  if (short_read) a->changed++;
  close(fd);
  return error;
}

static int archive_entry(struct archiving *a, int dir, const char *name, const char *path, int depth) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? 0 : failed_at(a, path, errno);
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    a->skipped++; /* devices, FIFOs, sockets: not file data */
    return 0;
  }
  if (++a->entries > a->max_entries) return failed_at(a, path, E2BIG);
  if (S_ISREG(st.st_mode)) return archive_file(a, dir, name, path);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(dir, name, target, sizeof target);
    if (n < 0) return errno == ENOENT ? 0 : failed_at(a, path, errno);
    return emit_header(&st, path, target, (size_t)n);
  }
  int error = emit_header(&st, path, NULL, 0);
  if (error) return error;
  int fd = open_dir_nofollow(dir, name, 1);
  if (fd < 0) return errno == ENOENT ? 0 : failed_at(a, path, errno);
  return archive_dir_contents(a, fd, path, depth);
}

/* The archive's name of its top: the last component of the path asked for, "." for the root. */
static void top_name(const char *path, char *out, size_t size) {
  size_t end = strlen(path);
  while (end > 0 && path[end - 1] == '/') end--;
  size_t start = end;
  while (start > 0 && path[start - 1] != '/') start--;
  size_t length = end - start;
  if (length == 0 || length >= size || (length <= 2 && strncmp(path + start, "..", length) == 0)) {
    snprintf(out, size, ".");
    return;
  }
  memcpy(out, path + start, length);
  out[length] = 0;
}

int op_archive(char *const argv[]) {
  struct archiving a = {0};
  if (!argv[1] || !argv[2] || !argv[3] || argv[4] || parse_u64(argv[2], &a.max_bytes) ||
      parse_u64(argv[3], &a.max_entries))
    return fail(EINVAL, "arguments", NULL);
  sha256_init(&a.hash);
  struct place p;
  int error = paths_locate(argv[1], PATH_FOLLOW_LAST, &p);
  if (error) return fail(error, "locate", NULL);
  char top[256];
  top_name(argv[1], top, sizeof top);
  if (p.name[0]) {
    struct stat st;
    if (fstatat(p.dir, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0) error = errno;
    else if (S_ISDIR(st.st_mode)) error = EAGAIN; /* became a directory meanwhile */
    else if (!S_ISREG(st.st_mode)) error = ENODEV;
    else if (++a.entries > a.max_entries) error = E2BIG;
    else error = archive_file(&a, p.dir, p.name, top);
  } else {
    struct stat st;
    int fd = openat(p.dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) error = errno;
    else if (++a.entries > a.max_entries) error = E2BIG;
    else error = emit_header(&st, top, NULL, 0);
    if (!error) error = archive_dir_contents(&a, fd, top, 0);
    else if (fd >= 0) close(fd);
  }
  place_close(&p);
  if (error) return fail(error, "archive", a.failed_path);
  char digest[65];
  sha256_hex(&a.hash, digest);
  dprintf(2, "ok entries=%llu size=%llu sha256=%s changed=%llu skipped=%llu\n",
          (unsigned long long)a.entries, (unsigned long long)a.bytes, digest,
          (unsigned long long)a.changed, (unsigned long long)a.skipped);
  return 0;
}
