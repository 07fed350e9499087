#include "identity.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* capset(2)'s structures (musl ships no kernel headers): version 3, two 32-bit words of sets. */
struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};
#define CAP_VERSION_3 0x20080522

/* A decimal id that fits, and nothing else. */
static int numeric(const char *text, unsigned long *out) {
  if (!*text) return 0;
  for (const char *c = text; *c; c++)
    if (*c < '0' || *c > '9') return 0;
  errno = 0;
  *out = strtoul(text, NULL, 10);
  return errno == 0 && *out <= 0xfffffffeUL;
}

/*
 * The colon-separated fields of the line of `path` whose field `key_field` is `key`, in `line`
 * (`fields` point into it); 0 when there is none or the file cannot be read.
 */
static int find_entry(const char *path, int key_field, const char *key, char *line, size_t size,
                      char *fields[7]) {
  FILE *file = fopen(path, "re");
  if (!file) return 0;
  int found = 0;
  while (!found && fgets(line, (int)size, file)) {
    line[strcspn(line, "\n")] = 0;
    int n = 0;
    char *at = line;
    for (; n < 7; n++) {
      fields[n] = at;
      char *colon = strchr(at, ':');
      if (!colon) {
        n++;
        break;
      }
      *colon = 0;
      at = colon + 1;
    }
    for (int i = n; i < 7; i++) fields[i] = "";
    found = n > key_field && strcmp(fields[key_field], key) == 0;
  }
  fclose(file);
  return found;
}

/* Every group of /etc/group that lists `name` among its members. */
static void supplementary_groups(const char *name, struct identity *out) {
  FILE *file = fopen("/etc/group", "re");
  if (!file) return;
  char line[4096];
  while (out->group_count < MAX_GROUPS && fgets(line, sizeof line, file)) {
    line[strcspn(line, "\n")] = 0;
    char *fields[4] = {line, NULL, NULL, NULL};
    for (int i = 1; i < 4 && fields[i - 1]; i++) {
      char *colon = strchr(fields[i - 1], ':');
      if (!colon) break;
      *colon = 0;
      fields[i] = colon + 1;
    }
    unsigned long gid;
    if (!fields[3] || !numeric(fields[2], &gid)) continue;
    for (char *member = strtok(fields[3], ","); member; member = strtok(NULL, ","))
      if (strcmp(member, name) == 0) out->groups[out->group_count++] = (gid_t)gid;
  }
  fclose(file);
}

int identity_resolve(const char *spec, struct identity *out, char *why, size_t why_size) {
  *out = (struct identity){0};
  char user[256], line[4096], *fields[7];
  const char *colon = strchr(spec, ':');
  size_t user_length = colon ? (size_t)(colon - spec) : strlen(spec);
  if (user_length == 0 || user_length >= sizeof user) {
    snprintf(why, why_size, "user \"%s\" is not a user name or uid", spec);
    return 0;
  }
  memcpy(user, spec, user_length);
  user[user_length] = 0;
  const char *group = colon ? colon + 1 : NULL;

  unsigned long id;
  strcpy(out->home, "/");
  if (numeric(user, &id)) {
    out->uid = (uid_t)id;
    if (find_entry("/etc/passwd", 2, user, line, sizeof line, fields)) {
      if (numeric(fields[3], &id)) out->gid = (gid_t)id;
      if (fields[5][0]) snprintf(out->home, sizeof out->home, "%s", fields[5]);
      supplementary_groups(fields[0], out);
    }
  } else if (find_entry("/etc/passwd", 0, user, line, sizeof line, fields) &&
             numeric(fields[2], &id)) {
    out->uid = (uid_t)id;
    if (numeric(fields[3], &id)) out->gid = (gid_t)id;
    if (fields[5][0]) snprintf(out->home, sizeof out->home, "%s", fields[5]);
    supplementary_groups(user, out);
  } else {
    snprintf(why, why_size, "user \"%s\" is not in the image's /etc/passwd; use a numeric uid",
             user);
    return 0;
  }
  if (group) {
    if (numeric(group, &id)) {
      out->gid = (gid_t)id;
    } else if (find_entry("/etc/group", 0, group, line, sizeof line, fields) &&
               numeric(fields[2], &id)) {
      out->gid = (gid_t)id;
    } else {
      snprintf(why, why_size, "group \"%s\" is not in the image's /etc/group; use a numeric gid",
               group);
      return 0;
    }
  }
  if (out->uid == getuid()) {
    snprintf(why, why_size,
             "user \"%s\" has uid %u, which the sandbox agent keeps for itself; use another user",
             spec, (unsigned)out->uid);
    return 0;
  }
  for (int cap = 0; cap <= 63; cap++)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) out->bounding |= 1ULL << cap;
  out->set = 1;
  return 1;
}

/* CAP_CHOWN's bit: the agent holds it only until its stdio is its own. */
#define CAP_CHOWN_BIT 0

int identity_become(uid_t uid, int keep_capabilities, char *why, size_t why_size) {
  /*
   * The stdio the engine gave this process (the host's link) belongs to root, 0600: a kernel
   * that checks only a file's owner and mode when /proc/<pid>/fd/N is opened (gVisor) would let
   * a uid 0 command open it. Made the agent's own, it is no command's to open.
   */
  for (int fd = 0; fd <= 2; fd++) {
    /* Pipes and sockets only: a terminal, /dev/null or a file is nobody's link, and not ours to
     * give away. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) continue;
    if (fchown(fd, uid, uid) != 0) {
      snprintf(why, why_size, "the sandbox agent could not make its stdio its own: %s",
               strerror(errno));
      return 0;
    }
  }
  /* Capabilities survive the change of uid only with KEEPCAPS, and then only as permitted. */
  if (setgroups(0, NULL) != 0 || prctl(PR_SET_KEEPCAPS, keep_capabilities, 0, 0, 0) != 0 ||
      setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) {
    snprintf(why, why_size, "the sandbox agent could not become uid %u: %s", (unsigned)uid,
             strerror(errno));
    return 0;
  }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (keep_capabilities) {
    struct cap_header header = {CAP_VERSION_3, 0};
    struct cap_data data[2];
    if (syscall(SYS_capget, &header, data) == 0) {
      data[0].permitted &= ~(1u << CAP_CHOWN_BIT);
      data[0].effective = data[0].permitted;
      data[1].effective = data[1].permitted;
      data[0].inheritable = data[1].inheritable = 0;
      syscall(SYS_capset, &header, data);
    }
    prctl(PR_CAPBSET_DROP, CAP_CHOWN_BIT, 0, 0, 0);
  }
  /* A change of uid makes a process dumpable again. */
  prctl(PR_SET_DUMPABLE, 0);
  return 1;
}

int identity_can_switch(char *why, size_t why_size) {
  static const struct {
    int bit;
    const char *name;
  } needed[] = {{5, "KILL"}, {6, "SETGID"}, {7, "SETUID"}, {8, "SETPCAP"}};
  struct cap_header header = {CAP_VERSION_3, 0};
  struct cap_data data[2];
  if (syscall(SYS_capget, &header, data) != 0) {
    snprintf(why, why_size, "the sandbox agent cannot read its capabilities");
    return 0;
  }
  for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
    if (!(data[0].effective & (1u << needed[i].bit))) {
      snprintf(why, why_size,
               "the sandbox agent lacks CAP_%s, which it needs to run commands as another user",
               needed[i].name);
      return 0;
    }
  }
  return 1;
}

int identity_apply(const struct identity *identity) {
  if (!identity->set) return 0;
  /* The bounding set first: dropping from it needs CAP_SETPCAP, which the switch below loses. */
  for (int cap = 0; cap <= 63; cap++) {
    if (!(identity->bounding & 1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  }
  if (setgroups((size_t)identity->group_count, identity->groups) != 0) return errno;
  if (setgid(identity->gid) != 0) return errno;
  if (setuid(identity->uid) != 0) return errno;
  /* A uid 0 command keeps what the agent held across setuid: none of it stays. */
  struct cap_header header = {CAP_VERSION_3, 0};
  struct cap_data none[2] = {{0, 0, 0}, {0, 0, 0}};
  if (syscall(SYS_capset, &header, none) != 0) return errno;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return 0;
}
