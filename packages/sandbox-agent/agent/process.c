#include "process.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "protocol.h"

#define RECORD_HDR 13

int ring_init(struct ring *r, uint64_t limit) {
  memset(r, 0, sizeof *r);
  if (limit < MIN_RING_BYTES) limit = MIN_RING_BYTES;
  if (limit > MAX_RING_BYTES) limit = MAX_RING_BYTES;
  r->limit = (size_t)limit;
  r->cap = 2 * r->limit;
  r->buf = malloc(r->cap);
  return r->buf ? 0 : ENOMEM;
}

void ring_free(struct ring *r) {
  free(r->buf);
  memset(r, 0, sizeof *r);
}

static uint32_t record_length(const struct ring *r, size_t at) { return get_u32(r->buf + at + 1); }

void ring_append(struct ring *r, uint8_t stream, const uint8_t *data, uint32_t n) {
  size_t need = RECORD_HDR + n;
  /* The oldest records go first, whole. */
  while (r->tail - r->head + need > r->limit && r->head < r->tail) {
    uint32_t length = record_length(r, r->head);
    r->first_out += length;
    r->head += RECORD_HDR + length;
  }
  if (r->tail + need > r->cap) {
    memmove(r->buf, r->buf + r->head, r->tail - r->head);
    r->base += r->head;
    r->tail -= r->head;
    r->head = 0;
  }
  uint8_t *at = r->buf + r->tail;
  at[0] = stream;
  put_u32(at + 1, n);
  put_u64(at + 5, r->end_out);
  memcpy(at + RECORD_HDR, data, n);
  r->tail += need;
  r->end_out += n;
}

uint64_t subscriber_seek(const struct ring *r, struct subscriber *s, uint64_t from) {
  s->skip = 0;
  if (from <= r->first_out) {
    s->pos = r->base + r->head;
    s->out = r->first_out;
    return r->first_out - from;
  }
  if (from >= r->end_out) {
    s->pos = r->base + r->tail;
    s->out = r->end_out;
    return 0;
  }
  for (size_t at = r->head; at < r->tail;) {
    uint32_t length = record_length(r, at);
    uint64_t out = get_u64(r->buf + at + 5);
    if (out + length > from) {
      s->pos = r->base + at;
      s->skip = (uint32_t)(from - out);
      s->out = from;
      return 0;
    }
    at += RECORD_HDR + length;
  }
  s->pos = r->base + r->tail;
  s->out = r->end_out;
  return 0;
}

int subscriber_pump(const struct ring *r, struct subscriber *s) {
  if (s->pos < r->base + r->head) {
    /* The ring dropped records this host had not had yet: say how much, then go on. */
    uint8_t lost[8];
    put_u64(lost, r->first_out - s->out);
    link_send(s->link, FRAME_GAP, s->channel, lost, 8);
    s->pos = r->base + r->head;
    s->skip = 0;
    s->out = r->first_out;
  }
  while (s->credit > 0 && s->pos < r->base + r->tail) {
    size_t at = (size_t)(s->pos - r->base);
    uint8_t stream = r->buf[at];
    uint32_t length = record_length(r, at);
    uint32_t take = length - s->skip;
    if (take > s->credit) take = s->credit;
    if (take > MAX_DATA_PAYLOAD) take = MAX_DATA_PAYLOAD;
    link_send(s->link, stream, s->channel, r->buf + at + RECORD_HDR + s->skip, take);
    s->skip += take;
    s->out += take;
    s->credit -= take;
    if (s->skip == length) {
      s->pos += RECORD_HDR + length;
      s->skip = 0;
    }
  }
  return s->pos == r->base + r->tail;
}

int ring_held_back(const struct ring *r, const struct subscriber subs[MAX_SUBSCRIBERS],
                   size_t incoming, int64_t now, int64_t *until) {
  int held = 0;
  for (int k = 0; k < MAX_SUBSCRIBERS; k++) {
    const struct subscriber *s = &subs[k];
    if (!s->link || now - s->took_at >= FOLLOW_GRACE_MS) continue;
    if ((r->base + r->tail) - s->pos + RECORD_HDR + incoming <= r->limit) continue;
    int64_t ends = s->took_at + FOLLOW_GRACE_MS;
    if (!held || ends < *until) *until = ends;
    held = 1;
  }
  return held;
}
