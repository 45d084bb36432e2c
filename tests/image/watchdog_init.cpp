// /init of the watchdog and persistence images (scripts/image BOARD --watchdog MODE, --persist
// BOOT): loads the kernel modules staged under /lib/modules in name order (softdog; virtio and
// ext4 for the data disk, numbered so that each comes after what it needs: Debian's ARM kernels
// build them as modules), then becomes ipcrt in PID-1 mode (/sbin/ipcrt, exec'd as pid 1 with
// no arguments). ipcrt itself loads no modules: a real board's drivers are built in or loaded
// by its initramfs.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

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
  std::vector<std::string> names;
  if (DIR* modules = ::opendir("/lib/modules")) {
    while (dirent* entry = ::readdir(modules)) {
      const std::string name = entry->d_name;
      if (name.ends_with(".ko")) names.push_back(name);
    }
    ::closedir(modules);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = "/lib/modules/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::syscall(SYS_finit_module, fd, "", 0) != 0) {
      say("cannot load " + path + ": " + std::strerror(errno));
    } else {
      say("loaded " + name);
    }
    if (fd >= 0) ::close(fd);
  }
  char arg0[] = "/init";
  char* argv[] = {arg0, nullptr};
  ::execv("/sbin/ipcrt", argv);
  say(std::string("cannot exec /sbin/ipcrt: ") + std::strerror(errno));
  for (;;) ::pause();
}
