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
#define MAX_DATA_PAYLOAD (64u * 1024)

/* host -> agent */
enum {
  FRAME_EXEC = 0x01,   /* start a command: see exec_request in exec.c */
  FRAME_STDIN = 0x02,  /* bytes for its stdin; an empty payload closes it */
  FRAME_KILL = 0x03,   /* kill the command and every process it started */
  FRAME_CREDIT = 0x04, /* u32: output bytes the host can take more of */
  FRAME_HELLO_AGAIN = 0x05, /* channel 0: say HELLO again (a host that attached later) */
  FRAME_ATTACH = 0x06, /* u64 output offset to replay from, then the process's tag (no NUL) */
  FRAME_RESIZE = 0x07, /* u16 rows, u16 columns: a PTY process's terminal size */
  FRAME_LIST = 0x08,   /* the processes of this agent, as PROCESS_INFO frames on this channel */
  FRAME_DETACH = 0x09, /* this channel stops following its process (which goes on) */
};

/* agent -> host */
enum {
  FRAME_HELLO = 0x81,   /* channel 0: PROTOCOL_NAME, NUL, u32 agent pid, u32 features */
  FRAME_STARTED = 0x82, /* u32 pid of the command */
  FRAME_STDOUT = 0x83,
  FRAME_STDERR = 0x84,
  FRAME_EXIT = 0x85,    /* see exit_payload in exec.c */
  FRAME_FAULT = 0x86,   /* channel 0 or an exec: a text saying what the host sent wrong */
  FRAME_STDIN_ACK = 0x87, /* u32: stdin bytes the command took (or that were dropped) */
  FRAME_REFUSED = 0x88, /* channel 0, instead of HELLO: u8 what (REFUSED_*), then a text */
  FRAME_ATTACHED = 0x89, /* u32 pid, u8 state, u8 pty, u16 0, u64 replay offset, u64 missed */
  FRAME_PROCESS_INFO = 0x8A, /* one process of a LIST (see exec.c); empty: the end of the list */
  FRAME_GAP = 0x8B,          /* u64 output bytes the ring dropped before this host had them */
};

/* A process's state in ATTACHED and PROCESS_INFO */
enum { PROCESS_RUNNING = 1, PROCESS_EXITED = 2 };

/* FRAME_REFUSED: what the agent could not accept at its start */
enum {
  REFUSED_USER = 1, /* --user names no one in the image, or the agent's own uid */
  REFUSED_PRIVILEGES = 2, /* the agent lacks the capabilities to run commands as --user */
  REFUSED_NO_SUBREAPER = 3, /* not PID 1, and the kernel has no child subreaper */
  REFUSED_EXIT_BASE = 64, /* the agent's exit code after a refusal: this plus REFUSED_* */
};

/* EXEC flags */
enum {
  EXEC_BUILTIN = 1, /* argv[0] names a files operation of the agent's own (builtin.h) */
  EXEC_AS = 2,      /* u32 uid and u32 gid follow the timeout: a builtin runs as them (an owner) */
  /* A process (process.h): it outlives its link, its output goes to a ring of max_output bytes,
   * and its tag (NUL-terminated, 1 to 64 of [A-Za-z0-9_-]) follows the fields above. */
  EXEC_PROCESS = 4,
  EXEC_PTY = 8, /* with EXEC_PROCESS: on a pseudo-terminal; u16 rows, u16 columns follow the tag */
};
#define EXEC_KNOWN_FLAGS (EXEC_BUILTIN | EXEC_AS | EXEC_PROCESS | EXEC_PTY)

/* What HELLO's u32 after the pid says this agent can do beyond running commands. */
enum {
  FEATURE_FILES = 1,     /* EXEC_BUILTIN and EXEC_AS */
  FEATURE_PROCESSES = 2, /* EXEC_PROCESS, EXEC_PTY, ATTACH, RESIZE, LIST, DETACH */
};
#define AGENT_FEATURES (FEATURE_FILES | FEATURE_PROCESSES)

/* FRAME_EXIT flags */
enum {
  EXIT_TRUNCATED = 1,     /* output past max_output_bytes was drained and dropped */
  EXIT_KILLED = 2,        /* the agent killed the command (deadline or KILL) */
  EXIT_KILL_COMPLETE = 4, /* ...and verified that none of its processes is left */
  EXIT_TIMED_OUT = 8,     /* the deadline fired (not a KILL frame) */
  EXIT_START_FAILED = 16, /* the program could not be started; errno in the payload */
};

#endif
