/*
 * The entry records of the files operations: what `stat`, `list` and `archive` write to their
 * stdout and what `extract` reads from its stdin. A record is a 40-byte header, little-endian,
 * then the name, the link target and, for a regular file in an archive, its bytes:
 *
 *   u8 kind ('f' file, 'd' directory, 'l' symbolic link, 'o' other), 3 bytes zero,
 *   u32 mode (permission bits), u32 uid, u32 gid, u64 size, i64 mtime seconds,
 *   u32 mtime nanoseconds, u16 name length, u16 link length
 */
#ifndef CADRE_AGENT_RECORDS_H
#define CADRE_AGENT_RECORDS_H

#include <stdint.h>
#include <sys/stat.h>

#define RECORD_HEADER 40

struct record {
  uint8_t kind;
  uint32_t mode, uid, gid;
  uint64_t size;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
  uint16_t name_length, link_length;
};

/* The record of a file as lstat describes it (no name, no link yet). */
void record_of(const struct stat *st, struct record *out);
void record_encode(const struct record *r, uint8_t out[RECORD_HEADER]);
/* Returns 0, or EINVAL for a header no host writes (unknown kind, bits past the mode). */
int record_decode(const uint8_t in[RECORD_HEADER], struct record *out);

#endif
