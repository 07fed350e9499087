#include "records.h"

#include <errno.h>
#include <string.h>

#include "link.h"

void record_of(const struct stat *st, struct record *out) {
  memset(out, 0, sizeof *out);
  out->kind = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'o';
  out->mode = st->st_mode & 07777;
  out->uid = st->st_uid;
  out->gid = st->st_gid;
  out->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
  out->mtime_sec = st->st_mtim.tv_sec;
  out->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
}

void record_encode(const struct record *r, uint8_t out[RECORD_HEADER]) {
  memset(out, 0, RECORD_HEADER);
  out[0] = r->kind;
  put_u32(out + 4, r->mode);
  put_u32(out + 8, r->uid);
  put_u32(out + 12, r->gid);
  put_u64(out + 16, r->size);
  put_u64(out + 24, (uint64_t)r->mtime_sec);
  put_u32(out + 32, r->mtime_nsec);
  out[36] = (uint8_t)(r->name_length & 0xff);
  out[37] = (uint8_t)(r->name_length >> 8);
  out[38] = (uint8_t)(r->link_length & 0xff);
  out[39] = (uint8_t)(r->link_length >> 8);
}

int record_decode(const uint8_t in[RECORD_HEADER], struct record *out) {
  memset(out, 0, sizeof *out);
  out->kind = in[0];
  out->mode = get_u32(in + 4);
  out->uid = get_u32(in + 8);
  out->gid = get_u32(in + 12);
  out->size = get_u64(in + 16);
  out->mtime_sec = (int64_t)get_u64(in + 24);
  out->mtime_nsec = get_u32(in + 32);
  out->name_length = (uint16_t)(in[36] | in[37] << 8);
  out->link_length = (uint16_t)(in[38] | in[39] << 8);
  int known = out->kind == 'f' || out->kind == 'd' || out->kind == 'l';
  if (!known || in[1] || in[2] || in[3] || out->mode > 07777 || out->mtime_nsec >= 1000000000u)
    return EINVAL;
  return 0;
}
