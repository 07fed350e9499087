#include "link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protocol.h"

/* Bytes read from the host and not yet handed out as frames. */
static uint8_t *inbox;
static size_t inbox_len, inbox_cap, inbox_start;
static int host_gone;

void put_u32(uint8_t *to, uint32_t v) {
  to[0] = v & 0xff;
  to[1] = (v >> 8) & 0xff;
  to[2] = (v >> 16) & 0xff;
  to[3] = (v >> 24) & 0xff;
}

void put_u64(uint8_t *to, uint64_t v) {
  put_u32(to, (uint32_t)v);
  put_u32(to + 4, (uint32_t)(v >> 32));
}

uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

int link_fill(void) {
  if (inbox_start > 0 && inbox_start == inbox_len) inbox_start = inbox_len = 0;
  if (inbox_cap - inbox_len < 65536) {
    /* Compact first, then grow up to one whole frame of the largest size. */
    if (inbox_start > 0) {
      memmove(inbox, inbox + inbox_start, inbox_len - inbox_start);
      inbox_len -= inbox_start;
      inbox_start = 0;
    }
    if (inbox_cap - inbox_len < 65536) {
      size_t cap = inbox_cap ? inbox_cap * 2 : 131072;
      if (cap > MAX_HOST_PAYLOAD + HEADER_BYTES + 65536) cap = MAX_HOST_PAYLOAD + HEADER_BYTES + 65536;
      if (cap <= inbox_cap) return 1; /* full: link_next must take a frame first */
      uint8_t *grown = realloc(inbox, cap);
      if (!grown) return -1;
      inbox = grown;
      inbox_cap = cap;
    }
  }
  for (;;) {
    ssize_t n = read(0, inbox + inbox_len, inbox_cap - inbox_len);
    if (n > 0) {
      inbox_len += (size_t)n;
      return 1;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 1;
    return -1;
  }
}

int link_next(struct frame *out) {
  size_t have = inbox_len - inbox_start;
  if (have < HEADER_BYTES) return 0;
  const uint8_t *h = inbox + inbox_start;
  uint32_t length = get_u32(h);
  if (length > MAX_HOST_PAYLOAD) return -1;
  if (have < HEADER_BYTES + (size_t)length) return 0;
  out->type = h[4];
  out->channel = get_u32(h + 5);
  out->payload = h + HEADER_BYTES;
  out->length = length;
  inbox_start += HEADER_BYTES + length;
  return 1;
}

static void write_all(struct iovec *iov, int count) {
  while (!host_gone && count > 0) {
    ssize_t n = writev(1, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      host_gone = 1; /* EPIPE: the host detached; execs go on until it comes back or they end */
      return;
    }
    while (count > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
}

void link_send2(uint8_t type, uint32_t channel, const void *a, uint32_t alen, const void *b,
                uint32_t blen) {
  uint8_t header[HEADER_BYTES];
  put_u32(header, alen + blen);
  header[4] = type;
  put_u32(header + 5, channel);
  struct iovec iov[3] = {
      {header, HEADER_BYTES}, {(void *)a, alen}, {(void *)b, blen}};
  write_all(iov, 3);
}

void link_send(uint8_t type, uint32_t channel, const void *payload, uint32_t length) {
  link_send2(type, channel, payload, length, "", 0);
}
