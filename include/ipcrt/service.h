/* ipcrt/service.h: the client side of ipcrt's service protocol (SPEC §11), header-only, for C
 * (C99 and later) and C++, for services that do not link libsystemd.
 *
 *   ipcrt_ready(), ipcrt_status(text), ipcrt_watchdog(), ipcrt_stopping()
 *       sd_notify(3)'s datagram protocol on $NOTIFY_SOCKET (READY=1, STATUS=, WATCHDOG=1,
 *       STOPPING=1). 0 when NOTIFY_SOCKET is unset (not run as a notify service), 1 when sent,
 *       -errno on failure, as sd_notify() returns.
 *   ipcrt_watchdog_usec()
 *       WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or equal), else 0.
 *   ipcrt_queue_open(name, oflag)
 *       A queue by name ("telemetry" or "/telemetry"): the descriptor ipcrt passed
 *       ("pass-queues": LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as sd_listen_fds_with_names()
 *       reads them), else mq_open() of the name. O_NONBLOCK and O_CLOEXEC in `oflag` are
 *       applied to a passed descriptor; an access mode it was not passed with is EACCES.
 *   ipcrt_paths(plug, index, buffer, size)
 *       Entry `index` of IPCRT_<PLUG>_PATHS (a plug's or slot's queue paths or shm names).
 *   ipcrt_shm_open(name, oflag, mode)
 *       A shared-memory object by name ("frames" or "/frames"), as shm_open(3).
 *
 * Only syscalls a confined service is allowed: the notify calls need socket(AF_UNIX,
 * SOCK_DGRAM) and sendto, which ipcrt's filter allows a notify service; a passed queue needs
 * no mq_open (a pass-queues service's filter has none), only fcntl and mq_getsetattr.
 * Link with -lrt on glibc before 2.34 (pkg-config --libs ipcrt says so). */
#ifndef IPCRT_SERVICE_H
#define IPCRT_SERVICE_H

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The first passed descriptor (systemd's SD_LISTEN_FDS_START). */
#define IPCRT_LISTEN_FDS_START 3

/* A non-negative decimal that fits a long, else -1. */
static inline long ipcrt_internal_decimal(const char* text) {
  long value = 0;
  if (text == NULL || *text == '\0') return -1;
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9' || value > (0x7fffffffL - 9) / 10) return -1;
    value = value * 10 + (*text - '0');
  }
  return value;
}

/* Sends `state` ("READY=1", "STATUS=...", several lines joined by '\n') to $NOTIFY_SOCKET: a
 * path, or an abstract name written with a leading '@'. */
static inline int ipcrt_notify(const char* state) {
  const char* socket_path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un address;
  size_t length;
  socklen_t address_length;
  int fd;
  ssize_t sent;
  int saved;
  if (socket_path == NULL || socket_path[0] == '\0') return 0;
  if (state == NULL) return -EINVAL;
  length = strlen(socket_path);
  if ((socket_path[0] != '/' && socket_path[0] != '@') || length >= sizeof address.sun_path) {
    return -EAFNOSUPPORT;
  }
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, socket_path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  /* An abstract name is exactly its bytes; a path may carry its NUL. */
  address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length +
                               (socket_path[0] == '@' ? 0 : 1));
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr*)&address,
                address_length);
  saved = errno;
  close(fd);
  return sent < 0 ? -saved : 1;
}

static inline int ipcrt_ready(void) {
  return ipcrt_notify("READY=1");
}
static inline int ipcrt_watchdog(void) {
  return ipcrt_notify("WATCHDOG=1");
}
static inline int ipcrt_stopping(void) {
  return ipcrt_notify("STOPPING=1");
}

/* STATUS=`text` (one line: a '\n' in it would start another assignment; cut at 1 KiB). */
static inline int ipcrt_status(const char* text) {
  char message[1024] = "STATUS=";
  size_t used = 7;
  for (; text != NULL && *text != '\0' && *text != '\n' && used + 1 < sizeof message; ++text) {
    message[used++] = *text;
  }
  message[used] = '\0';
  return ipcrt_notify(message);
}

/* How often WATCHDOG=1 must be sent, in µs; 0 when no watchdog is set for this process. */
static inline long long ipcrt_watchdog_usec(void) {
  const char* usec = getenv("WATCHDOG_USEC");
  const char* pid = getenv("WATCHDOG_PID");
  long long value = 0;
  if (usec == NULL || *usec == '\0') return 0;
  if (pid != NULL && ipcrt_internal_decimal(pid) != (long)getpid()) return 0;
  for (; *usec != '\0'; ++usec) {
    if (*usec < '0' || *usec > '9') return 0;
    value = value * 10 + (*usec - '0');
  }
  return value;
}

/* How many descriptors were passed to this process from fd 3 (0 if none, or for another
 * process: LISTEN_PID is checked, as sd_listen_fds() does). */
static inline int ipcrt_listen_fds(void) {
  const long pid = ipcrt_internal_decimal(getenv("LISTEN_PID"));
  const long count = ipcrt_internal_decimal(getenv("LISTEN_FDS"));
  if (pid <= 0 || pid != (long)getpid() || count <= 0 || count > 65536) return 0;
  return (int)count;
}

/* The passed descriptor named `name` (with or without its leading '/'), or -1. */
static inline int ipcrt_passed_fd(const char* name) {
  const char* names = getenv("LISTEN_FDNAMES");
  const int count = ipcrt_listen_fds();
  size_t length;
  int index = 0;
  if (name == NULL || names == NULL || count == 0) return -1;
  if (name[0] == '/') ++name;
  length = strlen(name);
  while (index < count) {
    const char* end = strchr(names, ':');
    const size_t entry = end != NULL ? (size_t)(end - names) : strlen(names);
    if (entry == length && memcmp(names, name, length) == 0) {
      return IPCRT_LISTEN_FDS_START + index;
    }
    if (end == NULL) break;
    names = end + 1;
    ++index;
  }
  return -1;
}

/* A queue by name: the passed descriptor, else mq_open("/name", oflag) (no O_CREAT given
 * here: ipcrt creates declared queues; pass O_CREAT with mode and attributes to mq_open
 * directly for a pattern queue). (mqd_t)-1 with errno set on failure. */
static inline mqd_t ipcrt_queue_open(const char* name, int oflag) {
  char path[256];
  size_t length;
  const int passed = ipcrt_passed_fd(name);
  if (passed >= 0) {
    const int flags = fcntl(passed, F_GETFL);
    const int wanted = oflag & O_ACCMODE;
    struct mq_attr attributes;
    if (flags < 0) return (mqd_t)-1;
    if ((flags & O_ACCMODE) != O_RDWR && (flags & O_ACCMODE) != wanted) {
      errno = EACCES; /* passed read-only or write-only: what the grants give */
      return (mqd_t)-1;
    }
    if ((oflag & O_CLOEXEC) != 0 && fcntl(passed, F_SETFD, FD_CLOEXEC) != 0) return (mqd_t)-1;
    memset(&attributes, 0, sizeof attributes);
    attributes.mq_flags = (oflag & O_NONBLOCK) != 0 ? O_NONBLOCK : 0;
    if (mq_setattr((mqd_t)passed, &attributes, NULL) != 0) return (mqd_t)-1;
    return (mqd_t)passed;
  }
  if (name == NULL) {
    errno = EINVAL;
    return (mqd_t)-1;
  }
  if (name[0] == '/') ++name;
  length = strlen(name);
  if (length == 0 || length + 2 > sizeof path) {
    errno = length == 0 ? EINVAL : ENAMETOOLONG;
    return (mqd_t)-1;
  }
  path[0] = '/';
  memcpy(path + 1, name, length + 1);
  return mq_open(path, oflag & ~O_CREAT);
}

/* Entry `index` of IPCRT_<PLUG>_PATHS of plug or slot `plug` ("sensor-data" reads
 * IPCRT_SENSOR_DATA_PATHS) into `buffer`: its length, 0 past the last entry (or when the
 * variable is unset), -ENAMETOOLONG if `buffer` is too small. */
static inline int ipcrt_paths(const char* plug, unsigned index, char* buffer, size_t size) {
  char variable[128] = "IPCRT_";
  size_t used = 6;
  const char* value;
  const char* end;
  size_t entry;
  for (; plug != NULL && *plug != '\0'; ++plug) {
    char c = *plug;
    if (used + sizeof "_PATHS" >= sizeof variable) return -ENAMETOOLONG;
    if (c == '-') c = '_';
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    variable[used++] = c;
  }
  memcpy(variable + used, "_PATHS", sizeof "_PATHS");
  value = getenv(variable);
  if (value == NULL) return 0;
  for (; index > 0; --index) {
    value = strchr(value, ':');
    if (value == NULL) return 0;
    ++value;
  }
  end = strchr(value, ':');
  entry = end != NULL ? (size_t)(end - value) : strlen(value);
  if (entry + 1 > size) return -ENAMETOOLONG;
  memcpy(buffer, value, entry);
  buffer[entry] = '\0';
  return (int)entry;
}

/* A shared-memory object by name: what ipcrt shows the service at /dev/shm/<name>. A
 * descriptor, or -1 with errno set. */
static inline int ipcrt_shm_open(const char* name, int oflag, mode_t mode) {
  char path[256];
  size_t length;
  if (name == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (name[0] == '/') ++name;
  length = strlen(name);
  if (length == 0 || length + 2 > sizeof path) {
    errno = length == 0 ? EINVAL : ENAMETOOLONG;
    return -1;
  }
  path[0] = '/';
  memcpy(path + 1, name, length + 1);
  return shm_open(path, oflag, mode);
}

#ifdef __cplusplus
}
#endif

#endif /* IPCRT_SERVICE_H */
