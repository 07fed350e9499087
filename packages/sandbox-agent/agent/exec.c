#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
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

/*
 * EXEC payload: u32 flags (EXEC_*), u64 max_output_bytes, u32 timeout_ms (0: none), with EXEC_AS
 * u32 uid and u32 gid, the working directory (empty: the agent's), u32 argc and argc strings,
 * u32 envc and envc strings; every string NUL-terminated.
 */
static void start(uint32_t link, uint32_t channel, const uint8_t *payload, uint32_t length) {
  if (channel == 0 || find(link, channel)) return fault(link, channel, "exec channel 0 or in use");
  struct exec *e = NULL;
  for (int i = 0; i < MAX_EXECS && !e; i++)
    if (!execs[i].used) e = &execs[i];
  if (!e) return fault(link, channel, "too many execs at once");
  const uint8_t *at = payload, *end = payload + length;
  if (length < 16) return fault(link, channel, "exec frame too short");
  uint32_t flags = get_u32(at);
  uint64_t max_output = get_u64(at + 4);
  uint32_t timeout_ms = get_u32(at + 12);
  at += 16;
  if (flags & ~(uint32_t)EXEC_KNOWN_FLAGS) return fault(link, channel, "unknown exec flags");
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
  const char *cwd = take_string(&at, end);
  char **argv = cwd ? take_strings(&at, end) : NULL;
  char **envp = argv ? take_strings(&at, end) : NULL;
  if (!envp || !argv[0] || at != end) {
    free(argv);
    free(envp);
    return fault(link, channel, "malformed exec frame");
  }
  envp = with_home(envp);
  if (!envp) {
    free(argv);
    return fault(link, channel, "out of memory for the environment");
  }

  int in[2], out[2], err[2], rep[2];
  int made = 0;
  if (pipe2(in, O_CLOEXEC) == 0) made++;
  if (made == 1 && pipe2(out, O_CLOEXEC) == 0) made++;
  if (made == 2 && pipe2(err, O_CLOEXEC) == 0) made++;
  if (made == 3 && pipe2(rep, O_CLOEXEC) == 0) made++;
  /* The supervisor starts with SIGUSR1 and SIGCHLD blocked: a KILL right behind the EXEC must
   * wait for its sigwaitinfo, not end it by SIGUSR1's default action. */
  sigset_t block, saved_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &saved_mask);
  pid_t supervisor = made == 4 ? fork() : -1;
  if (supervisor == 0) {
    struct launch launch = {argv,  envp,   cwd,    as, (flags & EXEC_BUILTIN) != 0,
                            in[0], out[1], err[1], rep[1]};
    supervise(&launch);
  }
  int saved = errno;
  sigprocmask(SIG_SETMASK, &saved_mask, NULL);
  free(argv);
  free(envp);
  int *pipes[4] = {in, out, err, rep};
  if (supervisor < 0) {
    for (int i = 0; i < made; i++) {
      close(pipes[i][0]);
      close(pipes[i][1]);
    }
    /* No process or no descriptor to be had (a fork bomb, the pids limit): a command that could
     * not start, with its errno, as when the supervisor cannot start the program. */
    uint8_t p[20] = {0};
    put_u32(p, 126);
    put_u32(p + 8, EXIT_START_FAILED);
    put_u32(p + 16, (uint32_t)saved);
    return link_send(link, FRAME_EXIT, channel, p, sizeof p);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(rep[1]);
  memset(e, 0, sizeof *e);
  e->used = 1;
  e->link = link;
  e->channel = channel;
  e->supervisor = supervisor;
  e->in_fd = in[1];
  e->out_fd = out[0];
  e->err_fd = err[0];
  e->report_fd = rep[0];
  e->start_ticks = start_ticks(supervisor);
  nonblocking(e->in_fd);
  nonblocking(e->out_fd);
  nonblocking(e->err_fd);
  e->max_output = max_output;
  e->credit = INITIAL_CREDIT;
  e->deadline = timeout_ms ? now_ms() + timeout_ms : 0;
}

static void request_kill(struct exec *e) {
  if (e->kill_sent || e->exit_sent || e->supervisor <= 0) return;
  e->kill_sent = 1;
  kill(e->supervisor, SIGUSR1);
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

void exec_frame(uint32_t link, uint8_t type, uint32_t channel, const uint8_t *payload,
                uint32_t length) {
  if (type == FRAME_EXEC) return start(link, channel, payload, length);
  struct exec *e = find(link, channel);
  if (!e) return; /* an exec that ended meanwhile: nothing to do */
  switch (type) {
    case FRAME_STDIN:
      if (length == 0) {
        e->in_eof = 1;
      } else if (e->in_fd < 0) {
        uint8_t ack[4];
        put_u32(ack, length); /* the command took no more stdin: dropped, but acknowledged */
        link_send(link, FRAME_STDIN_ACK, channel, ack, 4);
      } else if (e->in_len + length > MAX_STDIN_BUFFER) {
        fault(link, channel, "stdin past the agent's window");
      } else if (!take_stdin(e, payload, length)) {
        return fault(link, channel, "out of memory for stdin");
      }
      if (e->in_fd >= 0 && e->in_eof && e->in_len == 0) close_fd(&e->in_fd);
      break;
    case FRAME_KILL:
      request_kill(e);
      break;
    case FRAME_CREDIT:
      if (length == 4) {
        uint64_t credit = (uint64_t)e->credit + get_u32(payload);
        e->credit = credit > UINT32_MAX ? UINT32_MAX : (uint32_t)credit;
      }
      break;
    default:
      fault(link, channel, "unknown frame type");
  }
}

/* Whether `e`'s output is drained and dropped: past the cap, or nobody is left to take it. */
static int dropping(const struct exec *e) { return e->sent >= e->max_output || e->link == 0; }

/* Whether `fd` of `e` wants reading: within the host's credit, or dropped anyway. */
static int wants_output(const struct exec *e, int fd) {
  return fd >= 0 && !e->killed && (e->credit > 0 || dropping(e));
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

/* Reads one chunk of output; sends what fits the cap and the credit, drops the rest. Returns 0
 * once nothing more is there to read now (EAGAIN), 1 otherwise. `final`: the command is dead,
 * so what its pipe still holds (at most the pipe's size) goes out whatever the credit says. */
static int read_output(struct exec *e, int *fd, uint8_t type, int final) {
  static uint8_t buf[MAX_DATA_PAYLOAD];
  size_t room = sizeof buf;
  int capped = dropping(e);
  if (!capped && !final && e->credit < room) room = e->credit;
  /* The other stream took the last credit in this round: read nothing now (a read of 0 bytes
   * would look like the end of the stream). */
  if (room == 0) return 0;
  ssize_t n = read(*fd, buf, room);
  if (n < 0 && errno == EINTR) return 1;
  if (n < 0 && errno == EAGAIN) return 0;
  if (n <= 0) {
    close_fd(fd);
    return 0;
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
  uint8_t ack[4];
  put_u32(ack, taken);
  link_send(e->link, FRAME_STDIN_ACK, e->channel, ack, 4);
  if (n < 0) {
    close_fd(&e->in_fd);
    e->in_len = 0;
  } else if (e->in_len == 0 && e->in_eof) {
    close_fd(&e->in_fd);
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
  uint8_t p[20];
  put_u32(p, (uint32_t)code);
  put_u32(p + 4, (uint32_t)sig);
  put_u32(p + 8, flags);
  put_u32(p + 12, e->survivors);
  put_u32(p + 16, (uint32_t)e->start_errno);
  link_send(e->link, FRAME_EXIT, e->channel, p, sizeof p);
  e->exit_sent = 1;
}

static void release(struct exec *e) {
  close_fd(&e->in_fd);
  close_fd(&e->out_fd);
  close_fd(&e->err_fd);
  close_fd(&e->report_fd);
  free(e->in_buf);
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
      put_u32(pid, (uint32_t)r.value);
      link_send(e->link, FRAME_STARTED, e->channel, pid, 4);
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
 * and forgets the exec once its supervisor is gone too. */
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
    if (ended && e->out_fd < 0 && e->err_fd < 0) send_exit(e);
  }
  if (e->exit_sent && e->report_fd < 0) release(e);
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
    if (!e->used || e->link != link) continue;
    e->link = 0;
    request_kill(e);
  }
}

void exec_kill_all(void) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (execs[i].used && execs[i].supervisor > 0) kill(execs[i].supervisor, SIGKILL);
  kill_below(getpid(), SWEEP_BUDGET_MS, NULL, 0);
}
