// Real-program use of the shared memory ipcrt pre-creates (SPEC §2.3), the way unmodified
// programs do it: glibc's sem_open without O_CREAT, shm_open + mmap of a sized object.
//   shm-probe post SEM          sem_open("/SEM") and sem_post: "SERVICE: posted SEM"
//   shm-probe wait SEM          sem_open("/SEM") and sem_timedwait (10 s): "SERVICE: woke SEM"
//                               or "SERVICE: wait SEM errno=E"
//   shm-probe write OBJ TEXT    shm_open("/OBJ", O_RDWR), mmap its whole size, copy TEXT in:
//                               "SERVICE: wrote OBJ size=N"
//   shm-probe read OBJ          shm_open("/OBJ", O_RDONLY), mmap, wait (10 s) until it holds
//                               text, print "SERVICE: read OBJ TEXT"
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

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 3) return 2;
  const std::string mode = argv[1];
  if (mode == "post" || mode == "wait") return semaphore(mode, argv[2]);
  if (mode == "write" && argc > 3) return object(mode, argv[2], argv[3]);
  if (mode == "read") return object(mode, argv[2], "");
  return 2;
}
