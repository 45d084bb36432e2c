// /init of the watchdog images (scripts/image BOARD --watchdog MODE): loads the kernel modules
// staged under /lib/modules (softdog: Debian's ARM kernels build it as a module), then becomes
// ipcrt in PID-1 mode (/sbin/ipcrt, exec'd as pid 1 with no arguments). ipcrt itself loads no
// modules: a real board's watchdog driver is built in or loaded by its initramfs.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

void say(const std::string& line) {
  std::string text = "watchdog-init: " + line + "\n";
  [[maybe_unused]] auto written = ::write(STDOUT_FILENO, text.data(), text.size());
}

}  // namespace

int main() {
  // The console for our lines before ipcrt mounts /dev (devtmpfs) itself.
  ::mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  if (::fcntl(STDOUT_FILENO, F_GETFD) < 0) {  // an initramfs without /dev/console
    const int console = ::open("/dev/console", O_RDWR);
    for (int fd = 0; console >= 0 && fd < 3; ++fd) ::dup2(console, fd);
    if (console > 2) ::close(console);
  }
  if (DIR* modules = ::opendir("/lib/modules")) {
    while (dirent* entry = ::readdir(modules)) {
      const std::string name = entry->d_name;
      if (!name.ends_with(".ko")) continue;
      const std::string path = "/lib/modules/" + name;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::syscall(SYS_finit_module, fd, "", 0) != 0) {
        say("cannot load " + path + ": " + std::strerror(errno));
      } else {
        say("loaded " + name);
      }
      if (fd >= 0) ::close(fd);
    }
    ::closedir(modules);
  }
  char arg0[] = "/init";
  char* argv[] = {arg0, nullptr};
  ::execv("/sbin/ipcrt", argv);
  say(std::string("cannot exec /sbin/ipcrt: ") + std::strerror(errno));
  for (;;) ::pause();
}
