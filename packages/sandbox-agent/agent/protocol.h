/*
 * The agent's wire protocol, version 1 (docs/agent-protocol.md). Every frame is a 9-byte header,
 * little-endian: u32 payload length, u8 type, u32 channel (the exec's id; 0 for the agent), then
 * the payload. The host writes to the agent's stdin, the agent to its stdout.
 */
#ifndef CADRE_AGENT_PROTOCOL_H
#define CADRE_AGENT_PROTOCOL_H

#include <stdint.h>

#define PROTOCOL_NAME "cadre-agent/1"
#define HEADER_BYTES 9

/* The largest frame the agent accepts: an exec with argv and env at the contract's limits. */
#define MAX_HOST_PAYLOAD (4u * 1024 * 1024)
/* The largest data frame the agent sends. */
#define MAX_DATA_PAYLOAD (32u * 1024)

/* host -> agent */
enum {
  FRAME_EXEC = 0x01,   /* start a command: see exec_request in exec.c */
  FRAME_STDIN = 0x02,  /* bytes for its stdin; an empty payload closes it */
  FRAME_KILL = 0x03,   /* kill the command and every process it started */
  FRAME_CREDIT = 0x04, /* u32: output bytes the host can take more of */
  FRAME_HELLO_AGAIN = 0x05, /* channel 0: say HELLO again (a host that attached later) */
};

/* agent -> host */
enum {
  FRAME_HELLO = 0x81,   /* channel 0: PROTOCOL_NAME, NUL, u32 agent pid */
  FRAME_STARTED = 0x82, /* u32 pid of the command */
  FRAME_STDOUT = 0x83,
  FRAME_STDERR = 0x84,
  FRAME_EXIT = 0x85,    /* see exit_payload in exec.c */
  FRAME_FAULT = 0x86,   /* channel 0 or an exec: a text saying what the host sent wrong */
  FRAME_STDIN_ACK = 0x87, /* u32: stdin bytes the command took (or that were dropped) */
  FRAME_REFUSED = 0x88, /* channel 0, instead of HELLO: u8 what (REFUSED_*), then a text */
};

/* FRAME_REFUSED: what the agent could not accept at its start */
enum {
  REFUSED_USER = 1, /* --user names no one in the image, or the agent's own uid */
  REFUSED_PRIVILEGES = 2, /* the agent lacks the capabilities to run commands as --user */
  REFUSED_NO_SUBREAPER = 3, /* not PID 1, and the kernel has no child subreaper */
  REFUSED_EXIT_BASE = 64, /* the agent's exit code after a refusal: this plus REFUSED_* */
};

/* FRAME_EXIT flags */
enum {
  EXIT_TRUNCATED = 1,     /* output past max_output_bytes was drained and dropped */
  EXIT_KILLED = 2,        /* the agent killed the command (deadline or KILL) */
  EXIT_KILL_COMPLETE = 4, /* ...and verified that none of its processes is left */
  EXIT_TIMED_OUT = 8,     /* the deadline fired (not a KILL frame) */
  EXIT_START_FAILED = 16, /* the program could not be started; errno in the payload */
};

#endif
