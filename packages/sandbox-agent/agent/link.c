#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protocol.h"
#include "tree.h"

/*
 * What one link may hold unread by its host. Output is sent only within the host's credit, so
 * a host that reads keeps this small; one that stops reading altogether loses the link.
 */
#define MAX_OUTBOX (64u * 1024 * 1024)

struct link {
  uint32_t serial; /* 0: the slot is free */
  int in_fd, out_fd;
  /* Bytes read from the host and not yet handed out as frames. */
  uint8_t *inbox;
  size_t inbox_len, inbox_cap, inbox_start;
  /* Bytes for the host that it has not taken yet. */
  uint8_t *outbox;
  size_t outbox_len, outbox_cap;
  const char *failed; /* set: close the link at the next chance, for this reason */
};

static struct link links[MAX_LINKS];
static uint32_t last_serial;

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

static struct link *find(uint32_t serial) {
  if (serial == 0) return NULL;
  for (int i = 0; i < MAX_LINKS; i++)
    if (links[i].serial == serial) return &links[i];
  return NULL;
}

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

uint32_t link_open(int in_fd, int out_fd) {
  for (int i = 0; i < MAX_LINKS; i++) {
    if (links[i].serial) continue;
    struct link *l = &links[i];
    memset(l, 0, sizeof *l);
    l->serial = ++last_serial;
    l->in_fd = in_fd;
    l->out_fd = out_fd;
    nonblocking(in_fd);
    if (out_fd != in_fd) nonblocking(out_fd);
    return l->serial;
  }
  return 0;
}

void link_close(uint32_t serial) {
  struct link *l = find(serial);
  if (!l) return;
  /* The agent's own stdio stays open (a descriptor 0 or 1 reused by something else would be
   * worse); the link just stops using it. */
  if (l->in_fd > 2) close(l->in_fd);
  if (l->out_fd > 2 && l->out_fd != l->in_fd) close(l->out_fd);
  free(l->inbox);
  free(l->outbox);
  memset(l, 0, sizeof *l);
}

int link_is_open(uint32_t serial) { return find(serial) != NULL && !find(serial)->failed; }

/* Reads what the host has sent. Returns 1 while open, 0 at EOF, -1 on a read error or when
 * memory for the inbox ran out. */
static int fill(struct link *l) {
  if (l->inbox_start > 0 && l->inbox_start == l->inbox_len) l->inbox_start = l->inbox_len = 0;
  if (l->inbox_cap - l->inbox_len < 65536) {
    /* Compact first, then grow up to one whole frame of the largest size. */
    if (l->inbox_start > 0) {
      memmove(l->inbox, l->inbox + l->inbox_start, l->inbox_len - l->inbox_start);
      l->inbox_len -= l->inbox_start;
      l->inbox_start = 0;
    }
    if (l->inbox_cap - l->inbox_len < 65536) {
      size_t cap = l->inbox_cap ? l->inbox_cap * 2 : 131072;
      size_t most = MAX_HOST_PAYLOAD + HEADER_BYTES + 65536;
      if (cap > most) cap = most;
      if (cap <= l->inbox_cap) return 1; /* full: a frame must be taken first */
      uint8_t *grown = realloc(l->inbox, cap);
      if (!grown) return -1;
      l->inbox = grown;
      l->inbox_cap = cap;
    }
  }
  for (;;) {
    ssize_t n = read(l->in_fd, l->inbox + l->inbox_len, l->inbox_cap - l->inbox_len);
    if (n > 0) {
      l->inbox_len += (size_t)n;
      return 1;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 1;
    return -1;
  }
}

/* The next whole frame read so far: 1 and *out set, 0 when none is complete, -1 when the host
 * announced a frame past MAX_HOST_PAYLOAD. */
static int next_frame(struct link *l, struct frame *out) {
  size_t have = l->inbox_len - l->inbox_start;
  if (have < HEADER_BYTES) return 0;
  const uint8_t *h = l->inbox + l->inbox_start;
  uint32_t length = get_u32(h);
  if (length > MAX_HOST_PAYLOAD) return -1;
  if (have < HEADER_BYTES + (size_t)length) return 0;
  out->type = h[4];
  out->channel = get_u32(h + 5);
  out->payload = h + HEADER_BYTES;
  out->length = length;
  l->inbox_start += HEADER_BYTES + length;
  return 1;
}

/* Writes what the outbox holds, as far as the host takes it now. */
static void drain_outbox(struct link *l) {
  size_t done = 0;
  while (done < l->outbox_len) {
    ssize_t n = write(l->out_fd, l->outbox + done, l->outbox_len - done);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    l->failed = "its host stopped reading"; /* EPIPE and the like */
    break;
  }
  memmove(l->outbox, l->outbox + done, l->outbox_len - done);
  l->outbox_len -= done;
}

static int append(struct link *l, const void *data, size_t length) {
  if (length == 0) return 1;
  if (l->outbox_len + length > l->outbox_cap) {
    size_t cap = l->outbox_cap ? l->outbox_cap : 65536;
    while (cap < l->outbox_len + length) cap *= 2;
    uint8_t *grown = realloc(l->outbox, cap);
    if (!grown) return 0;
    l->outbox = grown;
    l->outbox_cap = cap;
  }
  memcpy(l->outbox + l->outbox_len, data, length);
  l->outbox_len += length;
  return 1;
}

void link_send2(uint32_t serial, uint8_t type, uint32_t channel, const void *a, uint32_t alen,
                const void *b, uint32_t blen) {
  struct link *l = find(serial);
  if (!l || l->failed) return;
  uint8_t header[HEADER_BYTES];
  put_u32(header, alen + blen);
  header[4] = type;
  put_u32(header + 5, channel);
  size_t total = HEADER_BYTES + (size_t)alen + blen;
  if (l->outbox_len == 0) {
    /* The common case: straight out, without a copy. */
    struct iovec iov[3] = {{header, HEADER_BYTES}, {(void *)a, alen}, {(void *)b, blen}};
    ssize_t n;
    do n = writev(l->out_fd, iov, 3);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      l->failed = "its host stopped reading";
      return;
    }
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent == total) return;
    /* The rest of the frame waits in the outbox. */
    const uint8_t *parts[3] = {header, a, b};
    size_t lengths[3] = {HEADER_BYTES, alen, blen};
    for (int i = 0; i < 3; i++) {
      size_t skip = sent < lengths[i] ? sent : lengths[i];
      sent -= skip;
      if (!append(l, parts[i] + skip, lengths[i] - skip)) l->failed = "out of memory";
    }
    return;
  }
  if (l->outbox_len + total > MAX_OUTBOX) {
    l->failed = "its host has not read its output for too long";
    return;
  }
  if (!append(l, header, HEADER_BYTES) || !append(l, a, alen) || !append(l, b, blen))
    l->failed = "out of memory";
}

void link_send(uint32_t serial, uint8_t type, uint32_t channel, const void *payload,
               uint32_t length) {
  link_send2(serial, type, channel, payload, length, "", 0);
}

int link_poll_fds(struct pollfd *fds, int count, int capacity) {
  for (int i = 0; i < MAX_LINKS && count + 2 <= capacity; i++) {
    struct link *l = &links[i];
    if (!l->serial) continue;
    short out = l->outbox_len > 0 ? POLLOUT : 0;
    if (l->in_fd == l->out_fd) {
      fds[count++] = (struct pollfd){l->in_fd, (short)(POLLIN | out), 0};
    } else {
      fds[count++] = (struct pollfd){l->in_fd, POLLIN, 0};
      /* POLLOUT only when something waits; 0 still reports a host that went away. */
      fds[count++] = (struct pollfd){l->out_fd, out, 0};
    }
  }
  return count;
}

static struct link *owner_of(int fd) {
  for (int i = 0; i < MAX_LINKS; i++)
    if (links[i].serial && (links[i].in_fd == fd || links[i].out_fd == fd)) return &links[i];
  return NULL;
}

void link_poll_done(const struct pollfd *fds, int count,
                    void (*on_frame)(uint32_t serial, const struct frame *frame),
                    void (*on_closed)(uint32_t serial, const char *why)) {
  for (int k = 0; k < count; k++) {
    struct link *l = owner_of(fds[k].fd);
    if (!l || !fds[k].revents || l->failed) continue;
    uint32_t serial = l->serial;
    if (fds[k].fd == l->out_fd && (fds[k].revents & (POLLOUT | POLLERR))) drain_outbox(l);
    if (fds[k].fd == l->out_fd && l->out_fd != l->in_fd && (fds[k].revents & POLLERR))
      l->failed = "its host went away";
    if (fds[k].fd != l->in_fd || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    int state = fill(l);
    struct frame f;
    int got = 0;
    /* on_frame may send, and so fail, this link; it is looked up again after each frame. */
    while (find(serial) == l && !l->failed && (got = next_frame(l, &f)) == 1) on_frame(serial, &f);
    if (find(serial) != l || l->failed) continue;
    if (got < 0) {
      link_send(serial, FRAME_FAULT, 0, "frame past the agent's limit", 28);
      drain_outbox(l);
      l->failed = "it sent a frame past the agent's limit";
    } else if (state == 0) {
      l->failed = "its host closed it";
    } else if (state < 0) {
      l->failed = "reading from its host failed";
    }
  }
  for (int i = 0; i < MAX_LINKS; i++) {
    if (!links[i].serial || !links[i].failed) continue;
    uint32_t serial = links[i].serial;
    const char *why = links[i].failed;
    link_close(serial);
    on_closed(serial, why);
  }
}

void link_flush_all(int budget_ms) {
  int64_t give_up = now_ms() + budget_ms;
  for (;;) {
    struct pollfd fds[MAX_LINKS];
    int count = 0;
    for (int i = 0; i < MAX_LINKS; i++) {
      struct link *l = &links[i];
      if (!l->serial || l->failed || l->outbox_len == 0) continue;
      fds[count++] = (struct pollfd){l->out_fd, POLLOUT, 0};
    }
    int64_t left = give_up - now_ms();
    if (count == 0 || left <= 0) return;
    if (poll(fds, (nfds_t)count, (int)left) <= 0) return;
    for (int k = 0; k < count; k++) {
      struct link *l = owner_of(fds[k].fd);
      if (l && fds[k].revents) drain_outbox(l);
    }
  }
}
