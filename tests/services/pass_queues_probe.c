/* pass-queues-probe: a test service in C that uses ipcrt/service.h the way a service outside
 * this tree would (tests/integration/pass_queues_test.cpp). One line per fact, "key value".
 *
 *   pass-queues-probe listen     the LISTEN_* variables, each passed fd's access mode and
 *                                close-on-exec flag, what a send, a receive and an mq_open
 *                                of its name give, and ipcrt_queue_open() of each name
 *   pass-queues-probe notify     ipcrt_ready(), ipcrt_status(), ipcrt_watchdog(),
 *                                ipcrt_stopping() return codes and ipcrt_watchdog_usec()
 *   pass-queues-probe restart    as `listen`, then its cgroup and ipcrt_ready(); exits 1 the
 *                                first time (fd 5's queue was empty), 0 once restarted
 *   pass-queues-probe paths PLUG every entry of IPCRT_<PLUG>_PATHS through ipcrt_paths()
 *   pass-queues-probe exit       exits 0 (a provider that only owns queues) */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipcrt/service.h"

static const char* errno_text(int errnum) {
  switch (errnum) {
    case 0:
      return "ok";
    case EBADF:
      return "EBADF";
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case ENOENT:
      return "ENOENT";
    case EAGAIN:
      return "EAGAIN";
    case ENOSYS:
      return "ENOSYS";
    default:
      return "other";
  }
}

static const char* access_text(int flags) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      return "O_RDONLY";
    case O_WRONLY:
      return "O_WRONLY";
    case O_RDWR:
      return "O_RDWR";
    default:
      return "invalid";
  }
}

static const char* variable(const char* name) {
  const char* value = getenv(name);
  return value != NULL ? value : "-";
}

/* The `index`th name of LISTEN_FDNAMES into `out`. */
static int listen_name(int index, char* out, size_t size) {
  const char* names = getenv("LISTEN_FDNAMES");
  const char* end;
  size_t length;
  if (names == NULL) return 0;
  for (; index > 0; --index) {
    names = strchr(names, ':');
    if (names == NULL) return 0;
    ++names;
  }
  end = strchr(names, ':');
  length = end != NULL ? (size_t)(end - names) : strlen(names);
  if (length + 1 > size) return 0;
  memcpy(out, names, length);
  out[length] = '\0';
  return 1;
}

static int listen_mode(void) {
  const int count = ipcrt_listen_fds();
  int i;
  printf("LISTEN_FDS %s\n", variable("LISTEN_FDS"));
  printf("LISTEN_PID %s\n", variable("LISTEN_PID"));
  printf("LISTEN_FDNAMES %s\n", variable("LISTEN_FDNAMES"));
  printf("getpid %ld\n", (long)getpid());
  printf("listen-fds %d\n", count);
  printf("control-fd %s\n", variable("IPCRT_CONTROL_FD"));
  if (getenv("IPCRT_CONTROL_FD") != NULL) {
    const int control = atoi(getenv("IPCRT_CONTROL_FD"));
    printf("control-fd-open %s\n", fcntl(control, F_GETFD) >= 0 ? "yes" : "no");
  }
  /* The first descriptor past the passed ones: nothing else was inherited. */
  printf("fd-after %s\n", fcntl(IPCRT_LISTEN_FDS_START + count, F_GETFD) >= 0 ? "open" : "closed");
  for (i = 0; i < count; ++i) {
    const int fd = IPCRT_LISTEN_FDS_START + i;
    const int flags = fcntl(fd, F_GETFL);
    const int fd_flags = fcntl(fd, F_GETFD);
    char name[256];
    char path[258];
    char buffer[8192];
    struct mq_attr attributes;
    struct timespec now;
    int sent;
    int received;
    mqd_t opened;
    if (!listen_name(i, name, sizeof name)) name[0] = '\0';
    snprintf(path, sizeof path, "/%s", name);
    printf("fd %d name %s access %s cloexec %d nonblock %d\n", fd, name, access_text(flags),
           (fd_flags & FD_CLOEXEC) != 0, (flags & O_NONBLOCK) != 0);
    printf("fd %d getattr %s\n", fd, errno_text(mq_getattr(fd, &attributes) == 0 ? 0 : errno));
    /* A write to a read-only queue descriptor fails before the queue is looked at. */
    sent = mq_send(fd, "probe", 5, 0) == 0 ? 0 : errno;
    printf("fd %d send %s\n", fd, errno_text(sent));
    /* Never blocks: a timeout in the past, and a message is there if the send worked. */
    clock_gettime(CLOCK_REALTIME, &now);
    received = mq_timedreceive(fd, buffer, sizeof buffer, NULL, &now) >= 0 ? 0 : errno;
    printf("fd %d receive %s\n", fd, errno_text(received == ETIMEDOUT ? EAGAIN : received));
    opened = mq_open(path, O_RDONLY | O_CLOEXEC);
    printf("fd %d mq_open %s\n", fd, errno_text(opened != (mqd_t)-1 ? 0 : errno));
    if (opened != (mqd_t)-1) mq_close(opened);
    opened = ipcrt_queue_open(name, (flags & O_ACCMODE) | O_NONBLOCK);
    printf("fd %d ipcrt_queue_open %d %s\n", fd, (int)opened,
           errno_text(opened != (mqd_t)-1 ? 0 : errno));
    printf("fd %d after-open nonblock %d\n", fd, (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  }
  return 0;
}

static int notify_mode(void) {
  printf("ready %d\n", ipcrt_ready());
  printf("status %d\n", ipcrt_status("probing\nSECOND=line"));
  printf("watchdog %d\n", ipcrt_watchdog());
  printf("stopping %d\n", ipcrt_stopping());
  printf("watchdog-usec %lld\n", ipcrt_watchdog_usec());
  return 0;
}

/* A notify service that fails its first run (SPEC §11, §13): the restart after its cgroup's
 * kill joins the cgroup from the child, with the passed queues placed after that. */
static int restart_mode(void) {
  struct mq_attr attributes;
  const long before = mq_getattr(5, &attributes) == 0 ? attributes.mq_curmsgs : -1;
  listen_mode();
  /* The cgroup v2 line ("0::/..."), also on a hybrid layout whose v1 lines come first. */
  char line[512];
  char found[512] = "-";
  FILE* cgroup = fopen("/proc/self/cgroup", "r");
  if (cgroup != NULL) {
    while (fgets(line, sizeof line, cgroup) != NULL) {
      if (strncmp(line, "0::", 3) != 0) continue;
      line[strcspn(line, "\n")] = '\0';
      snprintf(found, sizeof found, "%s", line + 3);
    }
    fclose(cgroup);
  }
  printf("cgroup %s\n", found);
  printf("ready %d\n", ipcrt_ready());
  printf("run %s\n", before == 0 ? "first" : "again");
  return before == 0 ? 1 : 0;
}

static int paths_mode(const char* plug) {
  char entry[256];
  unsigned index = 0;
  int length;
  while ((length = ipcrt_paths(plug, index, entry, sizeof entry)) > 0) {
    printf("path %u %s\n", index, entry);
    ++index;
  }
  printf("paths %u\n", index);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "listen") == 0) return listen_mode();
  if (argc >= 2 && strcmp(argv[1], "notify") == 0) return notify_mode();
  if (argc >= 2 && strcmp(argv[1], "restart") == 0) return restart_mode();
  if (argc >= 3 && strcmp(argv[1], "paths") == 0) return paths_mode(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "exit") == 0) return 0;
  fprintf(stderr, "usage: pass-queues-probe listen|notify|restart|paths PLUG|exit\n");
  return 2;
}
