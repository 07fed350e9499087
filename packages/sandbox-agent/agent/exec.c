#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
#include "process.h"
#include "protocol.h"
#include "supervisor.h"
#include "tree.h"

/* How long the agent may spend killing what a dead supervisor left behind. */
#define SWEEP_BUDGET_MS 3000

struct exec {
  int used;
  uint32_t link; /* the link of the host that started it; 0 once that link has closed */
  uint32_t channel;
  pid_t supervisor;
  int out_fd, err_fd, in_fd, report_fd; /* -1 once closed */
  uint8_t *in_buf; /* stdin not yet written: in_len bytes from in_start, in_cap allocated */
  size_t in_start, in_len, in_cap;
  /* Whom the stdin in in_buf came from, in order, to acknowledge each as it is written. */
  struct {
    uint32_t link, channel, left;
  } owed[16];
  int owed_count;
  int in_eof; /* close stdin once in_buf is written */
  uint64_t max_output, sent;
  int truncated;
  uint32_t credit;
  int64_t deadline; /* 0: none */
  int timed_out, kill_sent;
  int exited, start_failed, killed, kill_clean;
  int32_t status, start_errno;
  uint32_t survivors;
  int exit_sent;
  /* When its supervisor started (clock ticks after boot): every process of the exec is younger. */
  unsigned long long start_ticks;
  /* EXEC_PROCESS: its ring and the hosts attached to it (process.h); NULL for a plain exec. */
  struct process *process;
  pid_t pid;             /* the command's, once started */
  uint8_t exit_frame[20]; /* a process's EXIT, for hosts that catch up or attach later */
  int64_t finished_at;   /* a process that ended: when, for evicting the oldest first */
};

static struct exec execs[MAX_EXECS];
static struct identity identity;

void exec_set_identity(const struct identity *as) { identity = *as; }

static void fault(uint32_t link, uint32_t channel, const char *what) {
  link_send(link, FRAME_FAULT, channel, what, (uint32_t)strlen(what));
}

/* Channels are the host's names: each link has its own. */
static struct exec *find(uint32_t link, uint32_t channel) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].link == link && execs[i].channel == channel) return &execs[i];
  return NULL;
}

int exec_is_supervisor(pid_t pid) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].supervisor == pid) return 1;
  return 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* A NUL-terminated string at *at within `end`, or NULL when the payload is cut short. */
static const char *take_string(const uint8_t **at, const uint8_t *end) {
  const uint8_t *nul = memchr(*at, 0, (size_t)(end - *at));
  if (!nul) return NULL;
  const char *s = (const char *)*at;
  *at = nul + 1;
  return s;
}

/* `count` strings (u32 count first) into a NULL-terminated array; NULL when malformed. */
static char **take_strings(const uint8_t **at, const uint8_t *end) {
  if (end - *at < 4) return NULL;
  uint32_t count = get_u32(*at);
  *at += 4;
  if (count > (uint32_t)(end - *at)) return NULL; /* each string has at least its NUL */
  char **list = calloc((size_t)count + 1, sizeof *list);
  if (!list) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    const char *s = take_string(at, end);
    if (!s) {
      free(list);
      return NULL;
    }
    list[i] = (char *)s;
  }
  return list;
}

/* `envp` with the user's HOME added when it has none, as an engine's exec does; NULL (and
 * `envp` freed) when memory ran out. */
static char **with_home(char **envp) {
  static char home[sizeof identity.home + 5];
  size_t count = 0;
  for (; envp[count]; count++)
    if (strncmp(envp[count], "HOME=", 5) == 0) return envp;
  if (!identity.set) return envp;
  snprintf(home, sizeof home, "HOME=%s", identity.home);
  char **grown = realloc(envp, (count + 2) * sizeof *envp);
  if (!grown) {
    free(envp);
    return NULL;
  }
  grown[count] = home;
  grown[count + 1] = NULL;
  return grown;
}

static int nonblocking(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* A process's tag: 1 to MAX_TAG of [A-Za-z0-9_-]. */
static int valid_tag(const char *tag) {
  size_t n = strlen(tag);
  if (n == 0 || n > MAX_TAG) return 0;
  for (const char *c = tag; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '-' || *c == '_'))
      return 0;
  return 1;
}

static struct exec *find_process(const char *tag) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].process && strcmp(execs[i].process->tag, tag) == 0)
      return &execs[i];
  return NULL;
}

static void release(struct exec *e);

/* A free slot; failing that, the slot of the process that ended longest ago. */
static struct exec *free_slot(void) {
  struct exec *oldest = NULL;
  for (int i = 0; i < MAX_EXECS; i++) {
    if (!execs[i].used) return &execs[i];
    if (execs[i].finished_at && (!oldest || execs[i].finished_at < oldest->finished_at))
      oldest = &execs[i];
  }
  if (oldest) release(oldest);
  return oldest;
}

static int count_running_processes(void) {
  int n = 0;
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].process && !execs[i].finished_at) n++;
  return n;
}

/* The command's stdin, stdout and stderr: three pipes, or a pseudo-terminal (its slave three
 * times for the command, its master for the agent). `mine` gets the agent's ends (stdin, stdout,
 * stderr; -1 for none), `theirs` the command's. Returns 0 or an errno. */
static int open_stdio(int pty, uint16_t rows, uint16_t cols, int mine[3], int theirs[3]) {
  if (!pty) {
    int p[3][2], made = 0;
    for (; made < 3; made++)
      if (pipe2(p[made], O_CLOEXEC) != 0) break;
    if (made < 3) {
      int error = errno;
      for (int i = 0; i < made; i++) close(p[i][0]), close(p[i][1]);
      return error;
    }
    mine[0] = p[0][1], theirs[0] = p[0][0];
    mine[1] = p[1][0], theirs[1] = p[1][1];
    mine[2] = p[2][0], theirs[2] = p[2][1];
    return 0;
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  int error = master < 0 ? errno : 0;
  if (!error && (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0))
    error = errno ? errno : EIO;
  int slave = error ? -1 : open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (!error && slave < 0) error = errno;
  int writer = error ? -1 : fcntl(master, F_DUPFD_CLOEXEC, 0);
  if (!error && writer < 0) error = errno;
  if (!error) {
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    ioctl(master, TIOCSWINSZ, &size);
  }
  if (error) {
    if (master >= 0) close(master);
    if (slave >= 0) close(slave);
    return error;
  }
  mine[0] = writer, mine[1] = master, mine[2] = -1;
  theirs[0] = slave, theirs[1] = slave, theirs[2] = slave;
  return 0;
}

/*
 * EXEC payload: u32 flags (EXEC_*), u64 max_output_bytes (a process: its ring's size), u32
 * timeout_ms (0: none); with EXEC_AS u32 uid and u32 gid; with EXEC_PROCESS its tag, NUL; with
 * EXEC_PTY u16 rows and u16 columns; then the working directory (empty: the agent's), u32 argc
 * and argc strings, u32 envc and envc strings; every string NUL-terminated.
 */
static void start(uint32_t link, uint32_t channel, const uint8_t *payload, uint32_t length) {
  if (channel == 0 || find(link, channel)) return fault(link, channel, "exec channel 0 or in use");
  const uint8_t *at = payload, *end = payload + length;
  if (length < 16) return fault(link, channel, "exec frame too short");
  uint32_t flags = get_u32(at);
  uint64_t max_output = get_u64(at + 4);
  uint32_t timeout_ms = get_u32(at + 12);
  at += 16;
  if (flags & ~(uint32_t)EXEC_KNOWN_FLAGS) return fault(link, channel, "unknown exec flags");
  int detached = (flags & EXEC_PROCESS) != 0, pty = (flags & EXEC_PTY) != 0;
  if ((pty && !detached) || (detached && (flags & EXEC_BUILTIN)))
    return fault(link, channel, "malformed exec frame");
  /* An owner for a files operation: any user but the agent's own, which no command may be. */
  struct identity *as = &identity;
  static struct identity owner;
  if (flags & EXEC_AS) {
    if (!(flags & EXEC_BUILTIN) || end - at < 8) return fault(link, channel, "malformed exec frame");
    owner = (struct identity){.set = 1, .uid = get_u32(at), .gid = get_u32(at + 4), .home = "/"};
    at += 8;
    if (identity.set && owner.uid == getuid())
      return fault(link, channel, "the owner of a file cannot be the agent's own uid");
    as = &owner;
  }
  const char *tag = detached ? take_string(&at, end) : "";
  uint16_t rows = 24, cols = 80;
  if (pty && tag) {
    if (end - at < 4) return fault(link, channel, "malformed exec frame");
    rows = (uint16_t)(at[0] | at[1] << 8);
    cols = (uint16_t)(at[2] | at[3] << 8);
    at += 4;
  }
  const char *cwd = tag ? take_string(&at, end) : NULL;
  char **argv = cwd ? take_strings(&at, end) : NULL;
  char **envp = argv ? take_strings(&at, end) : NULL;
  if (!envp || !argv[0] || at != end) {
    free(argv);
    free(envp);
    return fault(link, channel, "malformed exec frame");
  }
  const char *refused = NULL;
  if (detached && !valid_tag(tag)) refused = "a process's tag is 1 to 64 of A-Z a-z 0-9 _ -";
  else if (detached && find_process(tag)) refused = "a process with that tag exists";
  else if (detached && count_running_processes() >= MAX_PROCESSES) refused = "too many processes at once";
  struct exec *e = refused ? NULL : free_slot();
  if (!refused && !e) refused = "too many execs at once";
  struct process *process = NULL;
  if (!refused && detached) {
    process = calloc(1, sizeof *process);
    if (!process || ring_init(&process->ring, max_output) != 0) {
      free(process);
      process = NULL;
      refused = "out of memory for a process";
    }
  }
  envp = refused ? envp : with_home(envp);
  if (!refused && !envp) refused = "out of memory for the environment";
  if (refused) {
    free(argv);
    free(envp);
    return fault(link, channel, refused);
  }
  if (process) {
    process->pty = pty;
    snprintf(process->tag, sizeof process->tag, "%s", tag);
    snprintf(process->command, sizeof process->command, "%s", argv[0]);
  }

  int mine[3] = {-1, -1, -1}, theirs[3] = {-1, -1, -1}, rep[2] = {-1, -1};
  int error = open_stdio(pty, rows, cols, mine, theirs);
  /* A files operation streams a file or an archive: pipes of BULK_PIPE_BYTES let it run ahead
   * of the host's credit instead of stopping at every 64 KiB. Best effort: the kernel may refuse
   * (pipe-max-size, the uid's pipe budget). */
  if (!error && (flags & EXEC_BUILTIN)) {
    (void)fcntl(mine[0], F_SETPIPE_SZ, BULK_PIPE_BYTES);
    (void)fcntl(mine[1], F_SETPIPE_SZ, BULK_PIPE_BYTES);
  }
  if (!error && pipe2(rep, O_CLOEXEC) != 0) error = errno;
  /* The supervisor starts with SIGUSR1 and SIGCHLD blocked: a KILL right behind the EXEC must
   * wait for its sigwaitinfo, not end it by SIGUSR1's default action. */
  sigset_t block, saved_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &saved_mask);
  pid_t supervisor = error ? -1 : fork();
  if (supervisor == 0) {
    struct launch launch = {argv,      envp,      cwd,       as,    (flags & EXEC_BUILTIN) != 0,
                            theirs[0], theirs[1], theirs[2], rep[1], pty};
    supervise(&launch);
  }
  if (!error && supervisor < 0) error = errno;
  sigprocmask(SIG_SETMASK, &saved_mask, NULL);
  free(argv);
  free(envp);
  /* The command's ends are its own now (the slave of a PTY is one descriptor three times). */
  for (int i = 0; i < 3; i++)
    if (theirs[i] >= 0 && (i == 0 || theirs[i] != theirs[i - 1])) close(theirs[i]);
  if (rep[1] >= 0) close(rep[1]);
  if (supervisor < 0) {
    for (int i = 0; i < 3; i++)
      if (mine[i] >= 0) close(mine[i]);
    if (rep[0] >= 0) close(rep[0]);
    if (process) {
      ring_free(&process->ring);
      free(process);
    }
    /* No process or no descriptor to be had (a fork bomb, the pids limit): a command that could
     * not start, with its errno, as when the supervisor cannot start the program. */
    uint8_t p[20] = {0};
    put_u32(p, 126);
    put_u32(p + 8, EXIT_START_FAILED);
    put_u32(p + 16, (uint32_t)error);
    return link_send(link, FRAME_EXIT, channel, p, sizeof p);
  }
  memset(e, 0, sizeof *e);
  e->used = 1;
  e->supervisor = supervisor;
  e->in_fd = mine[0];
  e->out_fd = mine[1];
  e->err_fd = mine[2];
  e->report_fd = rep[0];
  e->start_ticks = start_ticks(supervisor);
  nonblocking(e->in_fd);
  nonblocking(e->out_fd);
  if (e->err_fd >= 0) nonblocking(e->err_fd);
  e->max_output = max_output;
  e->deadline = timeout_ms ? now_ms() + timeout_ms : 0;
  if (process) {
    /* The host that started it follows it first, from its first byte. */
    e->process = process;
    process->subs[0] = (struct subscriber){
        .link = link, .channel = channel, .credit = INITIAL_CREDIT, .took_at = now_ms()};
  } else {
    e->link = link;
    e->channel = channel;
    e->credit = INITIAL_CREDIT;
  }
}

static void request_kill(struct exec *e) {
  if (e->kill_sent || e->exit_sent || e->supervisor <= 0) return;
  e->kill_sent = 1;
  kill(e->supervisor, SIGUSR1);
}

/* The host that follows a process on this channel of this link, and its process. */
static struct exec *find_subscription(uint32_t link, uint32_t channel, struct subscriber **sub) {
  for (int i = 0; i < MAX_EXECS; i++) {
    struct process *p = execs[i].used ? execs[i].process : NULL;
    if (!p) continue;
    for (int k = 0; k < MAX_SUBSCRIBERS; k++)
      if (p->subs[k].link == link && p->subs[k].channel == channel) {
        *sub = &p->subs[k];
        return &execs[i];
      }
  }
  return NULL;
}

/* A frame for every host of `e`: its one host, or whoever follows its process. */
static void to_hosts(struct exec *e, uint8_t type, const void *payload, uint32_t length) {
  if (!e->process) return link_send(e->link, type, e->channel, payload, length);
  for (int k = 0; k < MAX_SUBSCRIBERS; k++)
    if (e->process->subs[k].link)
      link_send(e->process->subs[k].link, type, e->process->subs[k].channel, payload, length);
}

/* Sends each follower of a process what it has not had, and the EXIT once it has had it all. */
static void pump_process(struct exec *e) {
  for (int k = 0; k < MAX_SUBSCRIBERS; k++) {
    struct subscriber *sub = &e->process->subs[k];
    if (!sub->link) continue;
    int caught_up = subscriber_pump(&e->process->ring, sub);
    if (caught_up && e->exit_sent && !sub->exit_sent) {
      link_send(sub->link, FRAME_EXIT, sub->channel, e->exit_frame, sizeof e->exit_frame);
      sub->exit_sent = 1;
    }
  }
}

/* Appends stdin for the command: what was written is dropped from the front by moving the rest
 * only when the end of the buffer is reached, so a stream costs no copy per write. */
static int take_stdin(struct exec *e, const uint8_t *payload, uint32_t length) {
  if (e->in_start + e->in_len + length > e->in_cap) {
    if (e->in_start > 0) {
      memmove(e->in_buf, e->in_buf + e->in_start, e->in_len);
      e->in_start = 0;
    }
    if (e->in_len + length > e->in_cap) {
      size_t cap = e->in_cap ? e->in_cap * 2 : 65536;
      if (cap < e->in_len + length) cap = e->in_len + length;
      if (cap > MAX_STDIN_BUFFER) cap = MAX_STDIN_BUFFER;
      uint8_t *grown = realloc(e->in_buf, cap);
      if (!grown) return 0;
      e->in_buf = grown;
      e->in_cap = cap;
    }
  }
  memcpy(e->in_buf + e->in_start + e->in_len, payload, length);
  e->in_len += length;
  return 1;
}

/* Acknowledges `taken` bytes of stdin to the hosts they came from, in order. */
static void acknowledge_stdin(struct exec *e, uint32_t taken) {
  while (taken > 0 && e->owed_count > 0) {
    uint32_t part = taken < e->owed[0].left ? taken : e->owed[0].left;
    uint8_t ack[4];
    put_u32(ack, part);
    link_send(e->owed[0].link, FRAME_STDIN_ACK, e->owed[0].channel, ack, 4);
    e->owed[0].left -= part;
    taken -= part;
    if (e->owed[0].left == 0) {
      memmove(e->owed, e->owed + 1, (size_t)(e->owed_count - 1) * sizeof e->owed[0]);
      e->owed_count--;
    }
  }
}

/* No more stdin: the pipe closes; a terminal gets its end-of-file character instead. */
static void close_stdin(struct exec *e) {
  if (e->process && e->process->pty && e->in_fd >= 0) (void)!write(e->in_fd, "\x04", 1);
  close_fd(&e->in_fd);
}

static void take_stdin_frame(struct exec *e, uint32_t link, uint32_t channel,
                             const uint8_t *payload, uint32_t length) {
  if (length == 0) {
    e->in_eof = 1;
  } else if (e->in_fd < 0) {
    uint8_t ack[4];
    put_u32(ack, length); /* the command took no more stdin: dropped, but acknowledged */
    link_send(link, FRAME_STDIN_ACK, channel, ack, 4);
  } else if (e->in_len + length > MAX_STDIN_BUFFER) {
    fault(link, channel, "stdin past the agent's window");
  } else {
    int last = e->owed_count - 1;
    int same = last >= 0 && e->owed[last].link == link && e->owed[last].channel == channel;
    if (!same && e->owed_count == (int)(sizeof e->owed / sizeof e->owed[0]))
      return fault(link, channel, "stdin from too many hosts at once");
    if (!take_stdin(e, payload, length)) return fault(link, channel, "out of memory for stdin");
    if (same) e->owed[last].left += length;
    else {
      e->owed[e->owed_count].link = link;
      e->owed[e->owed_count].channel = channel;
      e->owed[e->owed_count].left = length;
      e->owed_count++;
    }
  }
  if (e->in_fd >= 0 && e->in_eof && e->in_len == 0) close_stdin(e);
}

/* A signal for a process (KILL with a u32 payload): to its process group, as a terminal's would. */
static void signal_process(struct exec *e, uint32_t link, uint32_t channel, uint32_t sig) {
  if (sig == 0 || sig >= 65) return fault(link, channel, "no such signal");
  if (e->pid <= 0 || e->exit_sent) return;
  if (kill(-e->pid, (int)sig) != 0) kill(e->pid, (int)sig);
}

/* ATTACH payload: u64 output offset to replay from, then the process's tag. */
static void attach(uint32_t link, uint32_t channel, const uint8_t *payload, uint32_t length) {
  struct subscriber *taken;
  if (channel == 0 || find(link, channel) || find_subscription(link, channel, &taken))
    return fault(link, channel, "attach channel 0 or in use");
  if (length < 9 || length > 8 + MAX_TAG) return fault(link, channel, "malformed attach frame");
  char tag[MAX_TAG + 1];
  memcpy(tag, payload + 8, length - 8);
  tag[length - 8] = 0;
  struct exec *e = find_process(tag);
  if (!e) return fault(link, channel, "no process with that tag");
  struct subscriber *sub = NULL;
  for (int k = 0; k < MAX_SUBSCRIBERS && !sub; k++)
    if (!e->process->subs[k].link) sub = &e->process->subs[k];
  if (!sub) return fault(link, channel, "too many hosts attached to that process");
  *sub = (struct subscriber){
      .link = link, .channel = channel, .credit = INITIAL_CREDIT, .took_at = now_ms()};
  uint64_t missed = subscriber_seek(&e->process->ring, sub, get_u64(payload));
  uint8_t p[24] = {0};
  put_u32(p, (uint32_t)e->pid);
  p[4] = e->exit_sent ? PROCESS_EXITED : PROCESS_RUNNING;
  p[5] = (uint8_t)e->process->pty;
  put_u64(p + 8, sub->out);
  put_u64(p + 16, missed);
  link_send(link, FRAME_ATTACHED, channel, p, sizeof p);
  pump_process(e);
}

/* LIST: a PROCESS_INFO per process (u32 pid, u8 state, u8 pty, u16 0, i32 exit code, i32 signal,
 * u64 output bytes so far, the tag, NUL, argv[0], NUL), then an empty one. */
static void list_processes(uint32_t link, uint32_t channel) {
  for (int i = 0; i < MAX_EXECS; i++) {
    struct exec *e = &execs[i];
    if (!e->used || !e->process) continue;
    uint8_t p[24 + MAX_TAG + 1 + sizeof e->process->command] = {0};
    put_u32(p, (uint32_t)e->pid);
    p[4] = e->exit_sent ? PROCESS_EXITED : PROCESS_RUNNING;
    p[5] = (uint8_t)e->process->pty;
    if (e->exit_sent) memcpy(p + 8, e->exit_frame, 8); /* exit code, signal */
    put_u64(p + 16, e->process->ring.end_out);
    size_t tag = strlen(e->process->tag) + 1, command = strlen(e->process->command) + 1;
    memcpy(p + 24, e->process->tag, tag);
    memcpy(p + 24 + tag, e->process->command, command);
    link_send(link, FRAME_PROCESS_INFO, channel, p, (uint32_t)(24 + tag + command));
  }
  link_send(link, FRAME_PROCESS_INFO, channel, NULL, 0);
}

void exec_frame(uint32_t link, uint8_t type, uint32_t channel, const uint8_t *payload,
                uint32_t length) {
  if (type == FRAME_EXEC) return start(link, channel, payload, length);
  if (type == FRAME_ATTACH) return attach(link, channel, payload, length);
  if (type == FRAME_LIST) return list_processes(link, channel);
  struct subscriber *sub = NULL;
  struct exec *e = find(link, channel);
  if (!e) e = find_subscription(link, channel, &sub);
  if (!e) return; /* an exec that ended meanwhile: nothing to do */
  switch (type) {
    case FRAME_STDIN:
      take_stdin_frame(e, link, channel, payload, length);
      break;
    case FRAME_KILL:
      if (length == 4 && e->process) signal_process(e, link, channel, get_u32(payload));
      else request_kill(e);
      break;
    case FRAME_CREDIT:
      if (length == 4) {
        uint32_t *credit = sub ? &sub->credit : &e->credit;
        uint64_t more = (uint64_t)*credit + get_u32(payload);
        *credit = more > UINT32_MAX ? UINT32_MAX : (uint32_t)more;
        if (sub) {
          sub->took_at = now_ms();
          pump_process(e);
        }
      }
      break;
    case FRAME_RESIZE:
      if (length == 4 && e->process && e->process->pty && e->out_fd >= 0) {
        struct winsize size = {.ws_row = (uint16_t)(payload[0] | payload[1] << 8),
                               .ws_col = (uint16_t)(payload[2] | payload[3] << 8)};
        ioctl(e->out_fd, TIOCSWINSZ, &size);
      }
      break;
    case FRAME_DETACH:
      if (sub) memset(sub, 0, sizeof *sub);
      break;
    default:
      fault(link, channel, "unknown frame type");
  }
}

/* Whether `e`'s output is drained and dropped: past the cap, or nobody is left to take it. */
static int dropping(const struct exec *e) { return e->sent >= e->max_output || e->link == 0; }

/* Whether `fd` of `e` wants reading: within the host's credit, or dropped anyway. A process's
 * output is always read: it goes to the ring, which keeps what it can. */
static int wants_output(const struct exec *e, int fd) {
  if (fd < 0 || e->killed) return 0;
  if (e->process) {
    int64_t until;
    return !ring_held_back(&e->process->ring, e->process->subs, PROCESS_READ_BYTES, now_ms(), &until);
  }
  return e->credit > 0 || dropping(e);
}

int exec_poll_fds(struct pollfd *fds, int count, int capacity) {
  for (int i = 0; i < MAX_EXECS && count + 4 <= capacity; i++) {
    struct exec *e = &execs[i];
    if (!e->used) continue;
    if (wants_output(e, e->out_fd)) fds[count++] = (struct pollfd){e->out_fd, POLLIN, 0};
    if (wants_output(e, e->err_fd)) fds[count++] = (struct pollfd){e->err_fd, POLLIN, 0};
    if (e->in_fd >= 0 && e->in_len > 0) fds[count++] = (struct pollfd){e->in_fd, POLLOUT, 0};
    if (e->report_fd >= 0) fds[count++] = (struct pollfd){e->report_fd, POLLIN, 0};
  }
  return count;
}

/* Reads one chunk of output; sends what fits the cap and the credit, drops the rest (a process's
 * goes to its ring). Returns 0 once nothing more is there to read now (EAGAIN), 1 otherwise.
 * `final`: the command is dead, so what its pipe still holds (at most the pipe's size) goes out
 * whatever the credit says. */
static int read_output(struct exec *e, int *fd, uint8_t type, int final) {
  static uint8_t buf[MAX_DATA_PAYLOAD];
  size_t room = e->process ? PROCESS_READ_BYTES : sizeof buf;
  int capped = e->process || dropping(e);
  if (!capped && !final && e->credit < room) room = e->credit;
  /* The other stream took the last credit in this round: read nothing now (a read of 0 bytes
   * would look like the end of the stream). */
  if (room == 0) return 0;
  ssize_t n = read(*fd, buf, room);
  if (n < 0 && errno == EINTR) return 1;
  if (n < 0 && errno == EAGAIN) return 0;
  if (n <= 0) {
    close_fd(fd); /* the end, or EIO from a terminal whose every slave closed */
    return 0;
  }
  if (e->process) {
    ring_append(&e->process->ring, type, buf, (uint32_t)n);
    pump_process(e);
    return 1;
  }
  uint64_t keep = (uint64_t)n;
  if (e->sent + keep > e->max_output) {
    keep = e->max_output > e->sent ? e->max_output - e->sent : 0;
    e->truncated = 1;
  }
  if (keep > 0 && e->link) {
    link_send(e->link, type, e->channel, buf, (uint32_t)keep);
    e->sent += keep;
    e->credit = keep >= e->credit ? 0 : e->credit - (uint32_t)keep;
  }
  return 1;
}

static void write_stdin(struct exec *e) {
  ssize_t n = write(e->in_fd, e->in_buf + e->in_start, e->in_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  uint32_t taken = n < 0 ? (uint32_t)e->in_len : (uint32_t)n; /* EPIPE: dropped, acked */
  e->in_start += taken;
  e->in_len -= taken;
  if (e->in_len == 0) e->in_start = 0;
  acknowledge_stdin(e, taken);
  if (n < 0) {
    close_fd(&e->in_fd);
    e->in_len = 0;
  } else if (e->in_len == 0 && e->in_eof) {
    close_stdin(e);
  }
}

static void send_exit(struct exec *e) {
  int32_t code = 0, sig = 0;
  uint32_t flags = 0;
  if (e->truncated) flags |= EXIT_TRUNCATED;
  if (e->timed_out) flags |= EXIT_TIMED_OUT;
  if (e->start_failed) {
    flags |= EXIT_START_FAILED;
    code = e->start_errno == ENOENT ? 127 : 126;
  } else if (e->killed) {
    flags |= EXIT_KILLED;
    if (e->kill_clean) flags |= EXIT_KILL_COMPLETE;
    code = 128 + SIGKILL;
    sig = SIGKILL;
  } else if (WIFSIGNALED(e->status)) {
    sig = WTERMSIG(e->status);
    code = 128 + sig;
  } else {
    code = WEXITSTATUS(e->status);
  }
  uint8_t *p = e->exit_frame;
  put_u32(p, (uint32_t)code);
  put_u32(p + 4, (uint32_t)sig);
  put_u32(p + 8, flags);
  put_u32(p + 12, e->survivors);
  put_u32(p + 16, (uint32_t)e->start_errno);
  e->exit_sent = 1;
  if (e->process) {
    e->finished_at = now_ms();
    pump_process(e); /* each follower gets it once it has had the output */
  } else {
    link_send(e->link, FRAME_EXIT, e->channel, p, sizeof e->exit_frame);
  }
}

static void release(struct exec *e) {
  close_fd(&e->in_fd);
  close_fd(&e->out_fd);
  close_fd(&e->err_fd);
  close_fd(&e->report_fd);
  free(e->in_buf);
  if (e->process) {
    ring_free(&e->process->ring);
    free(e->process);
  }
  memset(e, 0, sizeof *e);
}

/*
 * Kills the agent's children that no supervisor holds and that started since `e` did, with
 * everything below them. Under runc there are none unless a supervisor died; under gVisor, which
 * does not reparent orphans to a subreaper, a command's setsid and double-forked children come
 * to PID 1 instead. Another exec's stray started meanwhile is taken too: it escaped its own
 * supervisor already.
 */
static uint32_t sweep_strays(struct exec *e) {
  return kill_below(getpid(), SWEEP_BUDGET_MS, exec_is_supervisor, e->start_ticks);
}

/* The supervisor ended without its last word (the tenant killed it): what it supervised is now
 * the agent's child, and no other supervisor's; kill it all. */
static void supervisor_lost(struct exec *e) {
  e->supervisor = 0; /* dead: what it supervised is no longer spared */
  e->survivors = sweep_strays(e);
  e->killed = 1;
  e->kill_clean = e->survivors == 0;
}

static void read_reports(struct exec *e) {
  struct report r;
  ssize_t n = read(e->report_fd, &r, sizeof r);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n != (ssize_t)sizeof r) {
    close_fd(&e->report_fd);
    if (!e->exit_sent && !e->exited && !e->start_failed && !e->killed) supervisor_lost(e);
    return;
  }
  uint8_t pid[4];
  switch (r.kind) {
    case REPORT_STARTED:
      e->pid = (pid_t)r.value;
      put_u32(pid, (uint32_t)r.value);
      to_hosts(e, FRAME_STARTED, pid, 4);
      break;
    case REPORT_START_FAILED:
      e->start_failed = 1;
      e->start_errno = r.value;
      break;
    case REPORT_EXITED:
      e->exited = 1;
      e->status = r.value;
      break;
    case REPORT_KILLED: {
      uint32_t strays = sweep_strays(e);
      e->killed = 1;
      e->kill_clean = r.value && strays == 0;
      e->survivors = r.survivors + strays;
      break;
    }
  }
}

/* Sends EXIT once the command's end is known and its output is all read (or no longer wanted),
 * and forgets the exec once its supervisor is gone too; a process stays until its slot is
 * needed, for hosts that attach after its end. */
static void settle(struct exec *e) {
  if (!e->exit_sent) {
    if (e->killed || e->start_failed) {
      /* What the command wrote before it died is kept, up to 40 reads (more than a pipe holds);
       * a survivor of a failed kill that still writes cannot keep the exec open. */
      for (int n = 0; n < 40 && e->out_fd >= 0 && read_output(e, &e->out_fd, FRAME_STDOUT, 1); n++) {
      }
      for (int n = 0; n < 40 && e->err_fd >= 0 && read_output(e, &e->err_fd, FRAME_STDERR, 1); n++) {
      }
      close_fd(&e->out_fd);
      close_fd(&e->err_fd);
      close_fd(&e->in_fd);
    }
    int ended = e->killed || e->start_failed || e->exited;
    if (ended && e->process && e->process->pty && e->out_fd >= 0) {
      /* A terminal's master need not report its end once the process on it is gone (gVisor's
       * never does): what it holds is read now, and that is all. */
      for (int n = 0; n < 40 && read_output(e, &e->out_fd, FRAME_STDOUT, 1); n++) {
      }
      close_fd(&e->out_fd);
    }
    if (ended && e->out_fd < 0 && e->err_fd < 0) send_exit(e);
  }
  if (e->exit_sent && e->report_fd < 0 && !e->process) release(e);
  if (e->exit_sent && e->process && e->in_buf) {
    close_fd(&e->in_fd);
    free(e->in_buf);
    e->in_buf = NULL;
    e->in_len = e->in_start = e->in_cap = 0;
  }
}

void exec_poll_done(const struct pollfd *fds, int count) {
  for (int k = 0; k < count; k++) {
    if (!fds[k].revents) continue;
    for (int i = 0; i < MAX_EXECS; i++) {
      struct exec *e = &execs[i];
      if (!e->used) continue;
      if (fds[k].fd == e->out_fd) read_output(e, &e->out_fd, FRAME_STDOUT, 0);
      else if (fds[k].fd == e->err_fd) read_output(e, &e->err_fd, FRAME_STDERR, 0);
      else if (fds[k].fd == e->in_fd) write_stdin(e);
      else if (fds[k].fd == e->report_fd) read_reports(e);
      else continue;
      break;
    }
  }
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used) settle(&execs[i]);
}

int exec_next_deadline_ms(void) {
  int64_t next = -1, now = now_ms();
  for (int i = 0; i < MAX_EXECS; i++) {
    struct exec *e = &execs[i];
    int64_t until;
    /* A process held back for a follower: look again when that follower's grace ends. */
    if (e->used && e->process && e->out_fd >= 0 &&
        ring_held_back(&e->process->ring, e->process->subs, PROCESS_READ_BYTES, now, &until)) {
      int64_t left = until > now ? until - now : 0;
      if (next < 0 || left < next) next = left;
    }
    if (!e->used || !e->deadline || e->kill_sent || e->exit_sent) continue;
    int64_t left = e->deadline > now ? e->deadline - now : 0;
    if (next < 0 || left < next) next = left;
  }
  return next > 1 << 30 ? 1 << 30 : (int)next;
}

void exec_deadlines(void) {
  int64_t now = now_ms();
  for (int i = 0; i < MAX_EXECS; i++) {
    struct exec *e = &execs[i];
    if (!e->used || !e->deadline || e->kill_sent || e->exit_sent || now < e->deadline) continue;
    e->timed_out = 1;
    request_kill(e);
  }
}

void exec_link_closed(uint32_t link) {
  for (int i = 0; i < MAX_EXECS; i++) {
    struct exec *e = &execs[i];
    if (!e->used) continue;
    if (e->process) {
      /* A process goes on without the hosts that followed it over this link. */
      for (int k = 0; k < MAX_SUBSCRIBERS; k++)
        if (e->process->subs[k].link == link) memset(&e->process->subs[k], 0, sizeof e->process->subs[k]);
      continue;
    }
    if (e->link != link) continue;
    e->link = 0;
    request_kill(e);
  }
}

void exec_kill_all(void) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].supervisor > 0) kill(execs[i].supervisor, SIGKILL);
  kill_below(getpid(), SWEEP_BUDGET_MS, NULL, 0);
}
