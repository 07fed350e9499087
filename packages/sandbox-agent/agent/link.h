/* The link to the host: frames in on stdin, frames out on stdout. */
#ifndef CADRE_AGENT_LINK_H
#define CADRE_AGENT_LINK_H

#include <stddef.h>
#include <stdint.h>

/* A whole frame from the host, valid until the next call to link_next. */
struct frame {
  uint8_t type;
  uint32_t channel;
  const uint8_t *payload;
  uint32_t length;
};

/* Reads what stdin has (non-blocking). Returns 1 while open, 0 at EOF, -1 on a read error. */
int link_fill(void);
/* The next whole frame read so far: 1 and *out set, 0 when none is complete, -1 when the host
 * announced a frame past MAX_HOST_PAYLOAD (the link is then unusable). */
int link_next(struct frame *out);

/* Writes one frame to stdout, whole; a host that went away makes every later write a no-op. */
void link_send(uint8_t type, uint32_t channel, const void *payload, uint32_t length);
/* Writes a frame whose payload is two parts. */
void link_send2(uint8_t type, uint32_t channel, const void *a, uint32_t alen, const void *b,
                uint32_t blen);

void put_u32(uint8_t *to, uint32_t value);
void put_u64(uint8_t *to, uint64_t value);
uint32_t get_u32(const uint8_t *from);
uint64_t get_u64(const uint8_t *from);

#endif
