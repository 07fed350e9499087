/*
 * Where a sandbox path is, for the files operations: resolved beneath the session's root (the
 * sandbox's "/", or the stub's scratch directory), one component at a time, as the kernel would
 * resolve it for the operation's user, except that no symbolic link and no ".." ever leads out of
 * the root. Every directory on the way is opened with O_NOFOLLOW, so a directory swapped for a
 * symbolic link between two steps is an error, never a way out.
 */
#ifndef CADRE_AGENT_PATHS_H
#define CADRE_AGENT_PATHS_H

#include <limits.h>
#include <sys/types.h>

/* Sets the root every path is resolved beneath (default "/"); returns 0 or an errno. */
int paths_init(const char *root);
/* The root's descriptor (-1 before paths_init), and taking it at another number (a supervisor
 * moves it when it closes the agent's other descriptors). */
int paths_root_fd(void);
void paths_move_root_fd(int fd);

/* The directory that holds a path's last component, and that component. */
struct place {
  int dir;                /* an O_PATH descriptor the caller closes (place_close) */
  char name[NAME_MAX + 1]; /* "" when the path names the root or ends in "..": `dir` itself */
};

enum {
  PATH_FOLLOW_LAST = 1,  /* a symbolic link as the last component is followed (within the root) */
  PATH_MAKE_PARENTS = 2, /* missing directories before the last component are made (0755) */
};

/* Locates an absolute `path`. Returns 0 with `out` filled, or an errno (EINVAL: not absolute). */
int paths_locate(const char *path, int flags, struct place *out);
void place_close(struct place *place);

/*
 * Opens `name` below `dir` as a directory, never through a symbolic link, for reading its entries
 * (O_RDONLY) or as a step (O_PATH). Returns the descriptor or -1 with errno.
 */
int open_dir_nofollow(int dir, const char *name, int for_reading);

#endif
