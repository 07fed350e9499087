/*
 * What a process (an EXEC with EXEC_PROCESS) keeps that a plain exec does not: its output in a
 * bounded ring of records, whatever hosts are attached, and the hosts attached to it, each with
 * its place in that output and its own credit. A process outlives the link that started it; a host
 * that attaches later gets what the ring still holds, then what comes.
 */
#ifndef CADRE_AGENT_PROCESS_H
#define CADRE_AGENT_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#define MAX_SUBSCRIBERS 8
#define MAX_TAG 64
/* A process's ring holds at least this much output, and at most this much. */
#define MIN_RING_BYTES (64u * 1024)
#define MAX_RING_BYTES (16u * 1024 * 1024)
/* A process's output is read in chunks of at most this: the smallest ring always has room for one. */
#define PROCESS_READ_BYTES (32u * 1024)

/* Output as records: u8 stream, u32 length, u64 output offset, then the bytes. */
struct ring {
  uint8_t *buf;
  size_t cap;         /* allocated: twice the limit, so compaction is rare */
  size_t limit;       /* record bytes kept at most */
  size_t head, tail;  /* the records kept: buf[head, tail) */
  uint64_t base;      /* the absolute record position of buf[0] */
  uint64_t first_out; /* output offset of the oldest byte kept */
  uint64_t end_out;   /* output offset after the newest byte */
};

struct subscriber {
  uint32_t link, channel; /* link 0: a free slot */
  uint64_t pos;           /* absolute record position of the next record to send */
  uint32_t skip;          /* bytes of that record already sent */
  uint64_t out;           /* output offset of the next byte to send */
  uint32_t credit;
  int64_t took_at; /* when it last gave credit (or attached): it follows actively for a while */
  int exit_sent;
};

/* How long after its last credit a follower still holds its process back rather than miss output. */
#define FOLLOW_GRACE_MS 1000

struct process {
  int pty;
  char tag[MAX_TAG + 1];
  char command[256]; /* argv[0], for listings (never the arguments) */
  struct ring ring;
  struct subscriber subs[MAX_SUBSCRIBERS];
};

/* 0, or ENOMEM; `limit` is clamped to MIN_RING_BYTES..MAX_RING_BYTES. */
int ring_init(struct ring *r, uint64_t limit);
void ring_free(struct ring *r);
/* Keeps `n` bytes of `stream` (a FRAME_STDOUT or FRAME_STDERR type), dropping the oldest. */
void ring_append(struct ring *r, uint8_t stream, const uint8_t *data, uint32_t n);

/*
 * Whether the ring must not take `incoming` more bytes now: a follower that gave credit within
 * FOLLOW_GRACE_MS of `now` would lose output it has not had. Sets *until to when that follower's
 * grace ends, for the agent's poll.
 */
int ring_held_back(const struct ring *r, const struct subscriber subs[MAX_SUBSCRIBERS],
                   size_t incoming, int64_t now, int64_t *until);

/* Places `s` at output offset `from` (or the oldest kept); returns the output bytes it missed. */
uint64_t subscriber_seek(const struct ring *r, struct subscriber *s, uint64_t from);
/*
 * Sends `s` what it has not had, within its credit, as STDOUT and STDERR frames on its channel,
 * telling it first (GAP) what the ring dropped before it could; returns 1 once it is caught up.
 */
int subscriber_pump(const struct ring *r, struct subscriber *s);

#endif
