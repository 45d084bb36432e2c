// Real-program use of the shared memory ipcrt pre-creates (SPEC §2.3), the way unmodified
// programs do it: glibc's sem_open without O_CREAT, shm_open + mmap of a sized object.
//   shm-probe post SEM          sem_open("/SEM") and sem_post: "SERVICE: posted SEM"
//   shm-probe wait SEM          sem_open("/SEM") and sem_timedwait (10 s): "SERVICE: woke SEM"
//                               or "SERVICE: wait SEM errno=E"
//   shm-probe write OBJ TEXT    shm_open("/OBJ", O_RDWR), mmap its whole size, copy TEXT in:
//                               "SERVICE: wrote OBJ size=N"
//   shm-probe read OBJ          shm_open("/OBJ", O_RDONLY), mmap, wait (10 s) until it holds
//                               text, print "SERVICE: read OBJ TEXT"
//   shm-probe recreate OBJ TEXT [REPLY]
//                               as a program that owns its segment: shm_unlink("/OBJ"), then
//                               shm_open("/OBJ", O_CREAT|O_EXCL|O_RDWR), ftruncate to 4096,
//                               mmap, copy TEXT in: "SERVICE: recreated OBJ unlink=R create=R
//                               size=N"; with REPLY, wait (10 s) for a reply at offset 2048:
//                               "SERVICE: reply OBJ TEXT"; then shm_unlink again:
//                               "SERVICE: unlinked OBJ result=R"
//   shm-probe follow OBJ [REPLY] wait (10 s) until shm_open("/OBJ") (O_RDWR with REPLY, else
//                               O_RDONLY) finds it sized and holding text: "SERVICE: follow
//                               OBJ TEXT"; copy REPLY in at offset 2048
//   shm-probe unlink OBJ        shm_unlink("/OBJ") and shm_open(O_CREAT|O_EXCL|O_RDWR):
//                               "SERVICE: unlink OBJ unlink=R create=R"
//   shm-probe relative OBJ      the same by relative paths: in /dev/shm, unlink("OBJ") and
//                               open("OBJ", O_CREAT|O_EXCL); from "/", unlinkat and openat
//                               with a descriptor of /dev/shm, and "./dev/shm/OBJ":
//                               "SERVICE: relative OBJ unlink=R open=R unlinkat=R openat=R
//                               dotted=R"
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

const char* service() {
  const char* name = std::getenv("IPCRT_SERVICE");
  return name != nullptr ? name : "?";
}

const char* error_name() {
  const char* name = ::strerrorname_np(errno);
  return name != nullptr ? name : "?";
}

int semaphore(const std::string& mode, const std::string& name) {
  sem_t* sem = ::sem_open(("/" + name).c_str(), 0);
  if (sem == SEM_FAILED) {
    std::printf("%s: sem_open %s errno=%s\n", service(), name.c_str(), error_name());
    return 1;
  }
  if (mode == "post") {
    if (::sem_post(sem) != 0) return 1;
    std::printf("%s: posted %s\n", service(), name.c_str());
    return 0;
  }
  timespec deadline{};
  ::clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  int waited;
  do {
    waited = ::sem_timedwait(sem, &deadline);
  } while (waited != 0 && errno == EINTR);
  if (waited != 0) {
    std::printf("%s: wait %s errno=%s\n", service(), name.c_str(), error_name());
    return 1;
  }
  std::printf("%s: woke %s\n", service(), name.c_str());
  return 0;
}

int object(const std::string& mode, const std::string& name, const char* text) {
  const bool writing = mode == "write";
  const int fd = ::shm_open(("/" + name).c_str(), writing ? O_RDWR : O_RDONLY, 0);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0 || info.st_size == 0) {
    std::printf("%s: %s %s errno=%s size=%lld\n", service(), mode.c_str(), name.c_str(),
                error_name(), static_cast<long long>(info.st_size));
    return 1;
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  void* mapped = ::mmap(nullptr, size, writing ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                        fd, 0);
  if (mapped == MAP_FAILED) {
    std::printf("%s: mmap %s errno=%s\n", service(), name.c_str(), error_name());
    return 1;
  }
  if (writing) {
    std::strncpy(static_cast<char*>(mapped), text, size - 1);
    std::printf("%s: wrote %s size=%zu\n", service(), name.c_str(), size);
  } else {
    // The writer runs beside us: wait for its text, not for its start.
    const auto* bytes = static_cast<const volatile char*>(mapped);
    for (int i = 0; i < 1000 && bytes[0] == '\0'; ++i) ::usleep(10000);
    std::printf("%s: read %s %.*s\n", service(), name.c_str(),
                static_cast<int>(::strnlen(static_cast<const char*>(mapped), size)),
                static_cast<const char*>(mapped));
  }
  return 0;
}

std::string result_of(int status) {
  return status == 0 ? "ok" : error_name();
}

constexpr std::size_t kSize = 4096;
constexpr std::size_t kReplyAt = 2048;

// Waits (10 s) until `text` is not empty.
void wait_for_text(const volatile char* text) {
  for (int i = 0; i < 1000 && text[0] == '\0'; ++i) ::usleep(10000);
}

int recreate(const std::string& name, const char* text, const char* reply) {
  const std::string path = "/" + name;
  const std::string unlinked = result_of(::shm_unlink(path.c_str()));
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  const std::string created = result_of(fd < 0 ? -1 : 0);
  struct stat info {};
  void* mapped = MAP_FAILED;
  if (fd >= 0 && ::fstat(fd, &info) == 0 && info.st_size == 0 && ::ftruncate(fd, kSize) == 0) {
    mapped = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (mapped == MAP_FAILED) {
    std::printf("%s: recreated %s unlink=%s create=%s size=%lld errno=%s\n", service(),
                name.c_str(), unlinked.c_str(), created.c_str(),
                static_cast<long long>(info.st_size), error_name());
    return 1;
  }
  std::strncpy(static_cast<char*>(mapped), text, kReplyAt - 1);
  std::printf("%s: recreated %s unlink=%s create=%s size=%zu\n", service(), name.c_str(),
              unlinked.c_str(), created.c_str(), kSize);
  if (reply != nullptr) {
    const auto* answer = static_cast<const volatile char*>(mapped) + kReplyAt;
    wait_for_text(answer);
    std::printf("%s: reply %s %s\n", service(), name.c_str(),
                static_cast<const char*>(mapped) + kReplyAt);
  }
  ::munmap(mapped, kSize);
  ::close(fd);
  std::printf("%s: unlinked %s result=%s\n", service(), name.c_str(),
              result_of(::shm_unlink(path.c_str())).c_str());
  return 0;
}

int follow(const std::string& name, const char* reply) {
  const int access = reply != nullptr ? O_RDWR : O_RDONLY;
  for (int i = 0; i < 1000; ++i) {
    const int fd = ::shm_open(("/" + name).c_str(), access, 0);
    struct stat info {};
    if (fd >= 0 && ::fstat(fd, &info) == 0 && info.st_size >= static_cast<off_t>(kSize)) {
      void* mapped = ::mmap(nullptr, kSize, reply != nullptr ? PROT_READ | PROT_WRITE : PROT_READ,
                            MAP_SHARED, fd, 0);
      ::close(fd);
      if (mapped == MAP_FAILED) break;
      wait_for_text(static_cast<const volatile char*>(mapped));
      std::printf("%s: follow %s %s\n", service(), name.c_str(), static_cast<const char*>(mapped));
      if (reply != nullptr) {
        std::strncpy(static_cast<char*>(mapped) + kReplyAt, reply, kSize - kReplyAt - 1);
      }
      ::munmap(mapped, kSize);
      return 0;
    }
    if (fd >= 0) ::close(fd);
    ::usleep(10000);
  }
  std::printf("%s: follow %s errno=%s\n", service(), name.c_str(), error_name());
  return 1;
}

int unlink_and_create(const std::string& name) {
  const std::string path = "/" + name;
  const std::string unlinked = result_of(::shm_unlink(path.c_str()));
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  std::printf("%s: unlink %s unlink=%s create=%s\n", service(), name.c_str(), unlinked.c_str(),
              result_of(fd < 0 ? -1 : 0).c_str());
  return 0;
}

int relative(const std::string& name) {
  auto opened = [](int fd) {
    if (fd >= 0) ::close(fd);
    return result_of(fd < 0 ? -1 : 0);
  };
  std::string results[5];
  if (::chdir("/dev/shm") == 0) {
    results[0] = result_of(::unlink(name.c_str()));
    results[1] = opened(::open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  }
  const int dir = ::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::chdir("/") == 0 && dir >= 0) {
    results[2] = result_of(::unlinkat(dir, name.c_str(), 0));
    results[3] = opened(::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    results[4] = opened(::open(("./dev/shm/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));
  }
  std::printf("%s: relative %s unlink=%s open=%s unlinkat=%s openat=%s dotted=%s\n", service(),
              name.c_str(), results[0].c_str(), results[1].c_str(), results[2].c_str(),
              results[3].c_str(), results[4].c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 3) return 2;
  const std::string mode = argv[1];
  if (mode == "post" || mode == "wait") return semaphore(mode, argv[2]);
  if (mode == "write" && argc > 3) return object(mode, argv[2], argv[3]);
  if (mode == "read") return object(mode, argv[2], "");
  if (mode == "recreate" && argc > 3) {
    return recreate(argv[2], argv[3], argc > 4 ? argv[4] : nullptr);
  }
  if (mode == "follow") return follow(argv[2], argc > 3 ? argv[3] : nullptr);
  if (mode == "unlink") return unlink_and_create(argv[2]);
  if (mode == "relative") return relative(argv[2]);
  return 2;
}
