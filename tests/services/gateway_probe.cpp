// A gateway daemon's view of its sandbox (SPEC §4a); each mode prints one line "SERVICE: MODE
// ... result=R" with what it saw or the errno it got.
//   gateway-probe state DIR        appends a line to DIR/runs: "runs=N owner=UID:GID mode=M"
//                                  (of DIR), the owner of DIR/runs and $HOME
//   gateway-probe open PATH MODE   open(PATH, O_RDONLY|O_WRONLY|O_RDWR for r|w|rw)
//   gateway-probe node PATH        the node's type (c/b), major:minor, gid and mode bits
//   gateway-probe poke PATH TEXT   writes TEXT at offset 0 of PATH, fdatasync, reads it back
//   gateway-probe bind PORT        bind(2) of a TCP socket to 0.0.0.0:PORT
//   gateway-probe caps             CapEff, CapBnd and CapAmb of /proc/self/status
//   gateway-probe mq NAME          mq_open(NAME, O_RDONLY | O_NONBLOCK)
//   gateway-probe getppid          getppid(2) as a raw syscall: the parent's pid or the errno
//   gateway-probe ptrace           ptrace(PTRACE_TRACEME) as a raw syscall: what any uid may
//                                  do unless a filter refuses it ("ok" or the errno)
#include <arpa/inet.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* service() {
  const char* name = std::getenv("IPCRT_SERVICE");
  return name != nullptr ? name : "?";
}

std::string errno_text() {
  const char* name = ::strerrorname_np(errno);
  return name != nullptr ? name : std::to_string(errno);
}

int state(const char* dir) {
  const std::string runs = std::string(dir) + "/runs";
  int fd = ::open(runs.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::printf("%s: state result=%s\n", service(), errno_text().c_str());
    return 0;
  }
  char buffer[4096];
  ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
  int count = 0;
  for (ssize_t i = 0; i < n; ++i) count += buffer[i] == '\n';
  if (::write(fd, "run\n", 4) != 4) return 1;
  ::close(fd);
  struct stat info {};
  struct stat file {};
  ::stat(dir, &info);
  ::stat(runs.c_str(), &file);
  const char* home = std::getenv("HOME");
  std::printf("%s: state runs=%d owner=%u:%u mode=%o file=%u:%u home=%s result=ok\n", service(),
              count + 1, info.st_uid, info.st_gid, info.st_mode & 07777, file.st_uid, file.st_gid,
              home != nullptr ? home : "");
  return 0;
}

int open_mode(const char* path, const char* mode) {
  int flags = std::strcmp(mode, "rw") == 0  ? O_RDWR
              : std::strcmp(mode, "w") == 0 ? O_WRONLY
                                            : O_RDONLY;
  int fd = ::open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  std::printf("%s: open %s %s result=%s\n", service(), path, mode,
              fd >= 0 ? "ok" : errno_text().c_str());
  if (fd >= 0) ::close(fd);
  return 0;
}

int node(const char* path) {
  struct stat info {};
  if (::stat(path, &info) != 0) {
    std::printf("%s: node %s result=%s\n", service(), path, errno_text().c_str());
    return 0;
  }
  std::printf("%s: node %s type=%c dev=%u:%u uid=%u gid=%u mode=%o result=ok\n", service(), path,
              S_ISCHR(info.st_mode)   ? 'c'
              : S_ISBLK(info.st_mode) ? 'b'
                                      : '?',
              major(info.st_rdev), minor(info.st_rdev), info.st_uid, info.st_gid,
              info.st_mode & 07777);
  return 0;
}

int poke(const char* path, const char* text) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  std::string result = "ok";
  std::string back;
  if (fd < 0) {
    result = errno_text();
  } else {
    const auto size = static_cast<ssize_t>(std::strlen(text));
    char buffer[256] = {};
    if (::pwrite(fd, text, size, 0) != size || ::fdatasync(fd) != 0) {
      result = errno_text();
    } else if (::pread(fd, buffer, size, 0) != size) {
      result = errno_text();
    } else {
      back.assign(buffer, size);
    }
    ::close(fd);
  }
  std::printf("%s: poke %s read=%s result=%s\n", service(), path, back.c_str(), result.c_str());
  return 0;
}

int bind_port(const char* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::string result = "ok";
  if (fd < 0) {
    result = errno_text();
  } else {
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
    address.sin_addr.s_addr = htonl(INADDR_ANY);  // valid even where lo is down (images)
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      result = errno_text();
    ::close(fd);
  }
  std::printf("%s: bind %s result=%s\n", service(), port, result.c_str());
  return 0;
}

int caps() {
  std::string fields;
  if (FILE* status = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, status) != nullptr) {
      for (const char* key : {"CapEff:", "CapBnd:", "CapAmb:"}) {
        if (std::strncmp(line, key, std::strlen(key)) != 0) continue;
        std::string value = line + std::strlen(key);
        while (!value.empty() && (value.front() == '\t' || value.front() == ' ')) value.erase(0, 1);
        while (!value.empty() && value.back() == '\n') value.pop_back();
        fields += std::string(" ") + std::string(key, std::strlen(key) - 1) + "=" + value;
      }
    }
    std::fclose(status);
  }
  std::printf("%s: caps%s result=ok\n", service(), fields.c_str());
  return 0;
}

int mq(const char* name) {
  const mqd_t queue = ::mq_open(name, O_RDONLY | O_NONBLOCK);
  std::printf("%s: mq %s result=%s\n", service(), name,
              queue != static_cast<mqd_t>(-1) ? "ok" : errno_text().c_str());
  if (queue != static_cast<mqd_t>(-1)) ::mq_close(queue);
  return 0;
}

int getppid_raw() {
  const long parent = ::syscall(SYS_getppid);
  std::printf("%s: getppid result=%s\n", service(),
              parent >= 0 ? std::to_string(parent).c_str() : errno_text().c_str());
  return 0;
}

int ptrace_traceme() {
  const long done = ::syscall(SYS_ptrace, 0L /* PTRACE_TRACEME */, 0L, 0L, 0L);
  std::printf("%s: ptrace result=%s\n", service(), done == 0 ? "ok" : errno_text().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "state" && argc == 3) return state(argv[2]);
  if (mode == "open" && argc == 4) return open_mode(argv[2], argv[3]);
  if (mode == "node" && argc == 3) return node(argv[2]);
  if (mode == "poke" && argc == 4) return poke(argv[2], argv[3]);
  if (mode == "bind" && argc == 3) return bind_port(argv[2]);
  if (mode == "caps" && argc == 2) return caps();
  if (mode == "getppid" && argc == 2) return getppid_raw();
  if (mode == "ptrace" && argc == 2) return ptrace_traceme();
  if (mode == "mq" && argc == 3) return mq(argv[2]);
  std::fprintf(stderr,
               "usage: gateway-probe state DIR | open PATH r|w|rw | node PATH | "
               "poke PATH TEXT | bind PORT | caps | getppid | mq NAME\n");
  return 2;
}
