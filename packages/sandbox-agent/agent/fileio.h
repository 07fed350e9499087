/* What the files operations share: whole reads and writes, their result line, tree removal. */
#ifndef CADRE_AGENT_FILEIO_H
#define CADRE_AGENT_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Bytes one read or write of file data moves at most. */
#define IO_CHUNK 65536

/*
 * Takes SIGTERM (the agent's kill of a files operation) as the cue to stop: from then on every
 * read and write below fails with ECANCELED, so the operation removes what it had begun and ends.
 */
void stop_on_sigterm(void);

/* Writes all of `data`; returns 0 or an errno. */
int write_all(int fd, const void *data, size_t size);
/* Reads exactly `size` bytes; returns 0, ENODATA when the input ended first, or an errno. */
int read_exact(int fd, void *data, size_t size);
/* Like read(2), without EINTR. */
long read_some(int fd, void *data, size_t size);

/* The result line of a failure, with the relative path it concerns when `path` is not NULL
 * (hex, since a name may hold any byte but '/' and NUL); returns the exit code 1. */
int fail(int error, const char *step, const char *path);
/* Same, naming the index of the record that failed. */
int fail_entry(int error, const char *step, uint64_t entry);

/* A decimal number that fits, and nothing else; 0 or EINVAL. */
int parse_u64(const char *text, uint64_t *out);
/* An octal mode up to 07777, or "-" (then *given is 0); 0 or EINVAL. */
int parse_mode(const char *text, unsigned *mode, int *given);
int has_flag(const char *flags, char flag);

/* Removes `name` below `dir` with everything under it, never through a symbolic link. */
int remove_tree(int dir, const char *name, int depth);

/* 32 random bits, for names of temporary files. */
uint32_t random_u32(void);

#endif
