#include "attach.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "link.h"

/* `name` as a socket address: a path, or an abstract name after '@'. 0 when it does not fit. */
static socklen_t address_of(const char *name, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  size_t length = strlen(name);
  if (length == 0 || length >= sizeof addr->sun_path) return 0;
  memcpy(addr->sun_path, name, length);
  if (name[0] == '@') addr->sun_path[0] = 0; /* abstract: no trailing NUL counts */
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + (name[0] == '@' ? 0 : 1));
}

int attach_listen(const char *name) {
  struct sockaddr_un addr;
  socklen_t length = address_of(name, &addr);
  if (!length) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (name[0] != '@') unlink(name);
  if (bind(fd, (struct sockaddr *)&addr, length) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/*
 * Whether the process at the other end of `fd` may speak for the host: only one of the agent's
 * own uid, which no command has (identity.h). (What a peer's pid says cannot be trusted: gVisor
 * reports 1 for every peer.)
 */
static int peer_allowed(int fd) {
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return 0;
  return cred.uid == getuid();
}

uint32_t attach_accept(int listen_fd) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return 0;
  if (!peer_allowed(fd)) {
    close(fd);
    return 0;
  }
  uint32_t serial = link_open(fd, fd);
  if (!serial) close(fd);
  return serial;
}

/* Writes all of `data` to a blocking descriptor; 0 when the other side went away. */
static int write_all(int fd, const char *data, ssize_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, (size_t)length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    data += n;
    length -= n;
  }
  return 1;
}

int attach_connect_main(const char *name) {
  /* Before anything is read: a tenant process must not trace this one or read its descriptors. */
  prctl(PR_SET_DUMPABLE, 0);
  struct sockaddr_un addr;
  socklen_t length = address_of(name, &addr);
  int fd = length ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, length) != 0) {
    static const char why[] = "cadre-agent connect: no agent answers in this sandbox\n";
    (void)!write(2, why, sizeof why - 1);
    return 3;
  }
  static char buf[65536];
  struct pollfd fds[2] = {{0, POLLIN, 0}, {fd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 2;
    }
    if (fds[0].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(fd, buf, n)) return 0; /* the host is done */
    }
    if (fds[1].revents) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(1, buf, n)) return 0; /* the agent is gone */
    }
  }
}
