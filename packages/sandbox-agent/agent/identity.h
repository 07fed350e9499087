/*
 * Who the commands run as. In a sandbox the agent runs as a uid of its own, which no command
 * ever has: the kernel then keeps every command from signalling, tracing or reading the agent
 * and its supervisors whatever the kernel makes of dumpability (gVisor ignores it, and lets a
 * process of PID 1's own uid kill it). The agent holds the capabilities to switch (SETUID,
 * SETGID, SETPCAP) and to kill commands (KILL); a command gets none of them.
 */
#ifndef CADRE_AGENT_IDENTITY_H
#define CADRE_AGENT_IDENTITY_H

#include <stddef.h>
#include <sys/types.h>

#define MAX_GROUPS 64

struct identity {
  int set; /* 0: commands run as the agent itself (the stub, tests) */
  uid_t uid;
  gid_t gid;
  int group_count;
  gid_t groups[MAX_GROUPS];
  char home[256]; /* HOME of a command whose env has none */
  /* The capabilities in the bounding set when the identity was resolved, one bit each: a command
   * drops these (the set only ever shrinks). Read once, not probed for all 64 per command: under
   * gVisor every system call costs tens of microseconds. */
  unsigned long long bounding;
};

/*
 * Resolves "user", "user:group", "uid" or "uid:gid" as a container engine does, with the
 * sandbox's /etc/passwd and /etc/group, read once before any command runs (so as the image
 * has them): a name must be there; a numeric uid without an entry gets gid 0 and HOME "/";
 * supplementary groups are those /etc/group lists the user in. Returns 1, or 0 with `why`
 * saying what is wrong: a name the image lacks, or the agent's own uid, which no command may
 * have (it could undo everything above).
 */
int identity_resolve(const char *spec, struct identity *out, char *why, size_t why_size);

/*
 * Makes this process, started as root with CAP_CHOWN and (with `keep_capabilities`) the ones the
 * agent keeps, a process of `uid` (gid `uid`, no supplementary groups), its stdio owned by `uid`
 * too: no command, of whatever uid, can then signal it, read it or open its stdio. With
 * `keep_capabilities` it still holds KILL, SETUID, SETGID and SETPCAP (the agent), without it
 * none (`connect`). Returns 1, or 0 with `why`.
 */
int identity_become(uid_t uid, int keep_capabilities, char *why, size_t why_size);

/* Whether the agent holds what identity_apply needs (SETUID, SETGID, SETPCAP, and KILL for
 * killing commands of another uid); 0 with `why` when not. */
int identity_can_switch(char *why, size_t why_size);

/*
 * In the command's process, before exec: takes the identity and drops every capability, from
 * the bounding set too, so that not even a uid 0 command regains one at exec. Returns 0, or the
 * errno of the step that failed (the command must not run then).
 */
int identity_apply(const struct identity *identity);

#endif
