/*
 * The agent's links to hosts: its own stdin and stdout, and every accepted connection of its
 * socket (a host that attached later, through `cadre-agent connect`). Frames in, frames out; a
 * link never blocks the agent: what its host has not read yet waits in the link's outbox.
 */
#ifndef CADRE_AGENT_LINK_H
#define CADRE_AGENT_LINK_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* Links open at once: the stdio link and up to seven attached hosts. */
#define MAX_LINKS 8

/* A whole frame from the host, valid until the next call to link_next. */
struct frame {
  uint8_t type;
  uint32_t channel;
  const uint8_t *payload;
  uint32_t length;
};

/*
 * Opens a link over `in_fd` and `out_fd` (the same descriptor for a socket), both made
 * non-blocking. Returns its serial, never 0 and never reused, or 0 when MAX_LINKS are open.
 */
uint32_t link_open(int in_fd, int out_fd);
/* Closes a link: its descriptors (above 2) are closed and whatever it held is dropped. */
void link_close(uint32_t serial);
int link_is_open(uint32_t serial);

/* The descriptors to poll for every open link, after `fds[0..count)`; returns the new count. */
int link_poll_fds(struct pollfd *fds, int count, int capacity);
/*
 * Acts on what poll found for those descriptors: reads what came in and writes what waits.
 * Calls `on_frame` for every whole frame, and `on_closed` for every link that ended (its host
 * went away, a read or write failed, or it announced a frame past MAX_HOST_PAYLOAD).
 */
void link_poll_done(const struct pollfd *fds, int count,
                    void (*on_frame)(uint32_t serial, const struct frame *frame),
                    void (*on_closed)(uint32_t serial, const char *why));

/* Queues one frame to a link, whole; a link that is closed or unknown (0) drops it. */
void link_send(uint32_t serial, uint8_t type, uint32_t channel, const void *payload,
               uint32_t length);
/* Queues a frame whose payload is two parts. */
void link_send2(uint32_t serial, uint8_t type, uint32_t channel, const void *a, uint32_t alen,
                const void *b, uint32_t blen);
/* Writes what every link's outbox holds, waiting up to `budget_ms` in all (the agent stops). */
void link_flush_all(int budget_ms);

void put_u32(uint8_t *to, uint32_t value);
void put_u64(uint8_t *to, uint64_t value);
uint32_t get_u32(const uint8_t *from);
uint64_t get_u64(const uint8_t *from);

#endif
