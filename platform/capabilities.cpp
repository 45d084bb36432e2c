// Capability dropping with raw prctl/capget/capset: no libcap in a static runtime.
#include "platform/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "common/file.hpp"

namespace ipcrt::platform {

int last_capability() {
  // The running kernel's, fixed until it reboots: read once, not at every launch (but again
  // while it cannot be read, as before PID 1 has mounted /proc).
  static std::atomic<int> known{-1};
  if (const int last = known.load(std::memory_order_relaxed); last >= 0) return last;
  auto text = read_text_file("/proc/sys/kernel/cap_last_cap");
  if (!text) return CAP_LAST_CAP;
  char* end = nullptr;
  long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || value < 0) return CAP_LAST_CAP;
  known.store(static_cast<int>(value), std::memory_order_relaxed);
  return static_cast<int>(value);
}

int drop_capability_bounding_set(int last) noexcept {
  for (int capability = 0; capability <= last; ++capability) {
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

int drop_capability_bounding_set_except(int last, unsigned long long keep) noexcept {
  for (int capability = 0; capability <= last; ++capability) {
    if (capability < 64 && (keep & (1ULL << capability)) != 0) continue;
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

int set_ambient_capabilities(unsigned long long keep) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (unsigned word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    const auto bits = static_cast<__u32>(keep >> (32 * word));
    data[word].effective = bits;
    data[word].permitted = bits;
    data[word].inheritable = bits;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return -errno;
  // Ambient bits need the capability permitted and inheritable, as just set.
  for (int capability = 0; capability < 64; ++capability) {
    if ((keep & (1ULL << capability)) == 0) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0) return -errno;
  }
  return 0;
}

int clear_inheritable_capabilities() noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return -errno;
  for (auto& word : data) word.inheritable = 0;
  if (::syscall(SYS_capset, &header, data) != 0) return -errno;
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return -errno;  // EINVAL: a kernel before ambient capabilities (4.3) has none to clear
  }
  return 0;
}

int keep_only_capability(int capability) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (capability >= 0) {
    const auto bit = 1U << (static_cast<unsigned>(capability) % 32);
    data[capability / 32].effective = bit;
    data[capability / 32].permitted = bit;
  }
  return ::syscall(SYS_capset, &header, data) == 0 ? 0 : -errno;
}

}  // namespace ipcrt::platform
