// POSIX message queue wrappers over the raw kernel interfaces.
#include "platform/mqueue.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "common/file.hpp"
#include "common/text.hpp"
#include "platform/sysctl.hpp"

namespace ipcrt::platform {
namespace {

constexpr long kMqueueMagic = 0x19800202;  // MQUEUE_MAGIC, include/uapi/linux/magic.h
constexpr long kMqPrioMax = 32768;         // MQ_PRIO_MAX, include/uapi/linux/mqueue.h
constexpr const char* kMqueueMount = "/dev/mqueue";

bool is_mqueue_fs(const char* dir) {
  struct statfs info {};
  return ::statfs(dir, &info) == 0 && static_cast<long>(info.f_type) == kMqueueMagic;
}

// Appends "/name" for each entry of a directory fd, skipping dot entries.
Status read_queue_names(int dir_fd, std::vector<std::string>& names) {
  DIR* dir = ::fdopendir(dir_fd);
  if (dir == nullptr) return fail_errno("fdopendir mqueue fs");
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.push_back(cat('/', name));
  }
  int saved = errno;
  ::closedir(dir);
  if (saved != 0) return fail_errno("readdir mqueue fs", saved);
  return {};
}

// Runs in the forked child: only raw syscalls and a stack buffer, no allocation. Writes the
// raw getdents64 records of the privately mounted mqueue root to `out_fd`.
[[noreturn]] void list_in_private_mount(const char* mount_dir, int out_fd) {
  if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
  if (::mount("mqueue", mount_dir, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    ::_exit(12);
  }
  int dir_fd = ::open(mount_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) ::_exit(13);
  alignas(8) char buffer[8192];
  for (;;) {
    long count = ::syscall(SYS_getdents64, dir_fd, buffer, sizeof buffer);
    if (count < 0) ::_exit(14);
    if (count == 0) break;
    for (long written = 0; written < count;) {
      long n = ::write(out_fd, buffer + written, static_cast<size_t>(count - written));
      if (n <= 0) ::_exit(15);
      written += n;
    }
  }
  ::_exit(0);
}

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

void parse_dirents(const std::string& records, std::vector<std::string>& names) {
  for (size_t offset = 0; offset + offsetof(LinuxDirent64, d_name) < records.size();) {
    const auto* entry = reinterpret_cast<const LinuxDirent64*>(records.data() + offset);
    if (entry->d_reclen == 0) break;
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.push_back(cat('/', name));
    offset += entry->d_reclen;
  }
}

// Linux 5.2's mount API, through raw syscalls: glibc before 2.36 has no wrappers.
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif

// The listing without a child: a detached mqueue mount of this IPC namespace (fsopen,
// fsmount), attached nowhere, so no mount namespace or mount point is needed, and gone with
// its descriptor. Needs CAP_SYS_ADMIN as the private mount does; nullopt where the kernel
// (before 5.2) or a filter refuses it, and the child does it the old way.
std::optional<std::vector<std::string>> list_via_detached_mount() {
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
  UniqueFd context(static_cast<int>(::syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC)));
  if (!context.valid()) return std::nullopt;
  if (::syscall(SYS_fsconfig, context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return std::nullopt;
  }
  UniqueFd mount(
      static_cast<int>(::syscall(SYS_fsmount, context.get(), FSMOUNT_CLOEXEC,
                                 MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)));
  if (!mount.valid()) return std::nullopt;
  int dir_fd = ::openat(mount.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return std::nullopt;
  std::vector<std::string> names;
  if (!read_queue_names(dir_fd, names)) return std::nullopt;
  return names;
#else
  return std::nullopt;
#endif
}

Result<std::vector<std::string>> list_via_private_mount() {
  std::string mount_dir = "/tmp/ipcrt-mqueue-XXXXXX";
  if (::mkdtemp(mount_dir.data()) == nullptr)
    return fail_errno("mkdtemp for a private mqueue mount");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::rmdir(mount_dir.c_str());
    return fail_errno("pipe2");
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  pid_t child = ::fork();
  if (child < 0) {
    ::rmdir(mount_dir.c_str());
    return fail_errno("fork");
  }
  if (child == 0) list_in_private_mount(mount_dir.c_str(), write_end.get());
  write_end.reset();
  auto records = read_to_end(read_end.get(), "the private mqueue mount's listing");
  read_end.reset();  // after a failed read, a child still writing ends on EPIPE, not waits
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::rmdir(mount_dir.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(cat("cannot list message queues: /dev/mqueue is not mounted and a private mqueue "
                    "mount failed (step ",
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1), ')'),
                "mount -t mqueue none /dev/mqueue, or run as root (CAP_SYS_ADMIN)");
  }
  if (!records) return std::unexpected(records.error());
  std::vector<std::string> names;
  parse_dirents(*records, names);
  return names;
}

std::string create_hint(int errnum) {
  switch (errnum) {
    case EINVAL:
      return "max-messages must be <= fs.mqueue.msg_max and message-size <= "
             "fs.mqueue.msgsize_max (raise them in the board profile's mqueue values, or lower "
             "the values); the name must be /NAME without further '/'";
    case EMFILE:
      return "the user's RLIMIT_MSGQUEUE is used up (raise rlimits.msgqueue, or lower "
             "max-messages/message-size) or the process ran out of descriptors (RLIMIT_NOFILE)";
    case ENOSPC:
      return "fs.mqueue.queues_max queues exist already: raise it in the board profile's mqueue "
             "values, or remove unused queues from /dev/mqueue";
    case EACCES:
      return "the queue exists and its mode does not allow this user to open it";
    case ENAMETOOLONG:
      return "queue names are at most 255 characters";
    default:
      return {};
  }
}

}  // namespace

Result<MqueueLimits> read_mqueue_limits(const std::string& proc_dir) {
  MqueueLimits limits;
  struct Field {
    const char* name;
    long* value;
  };
  const Field fields[] = {{"msg_max", &limits.msg_max},
                          {"msgsize_max", &limits.msgsize_max},
                          {"msg_default", &limits.msg_default},
                          {"msgsize_default", &limits.msgsize_default},
                          {"queues_max", &limits.queues_max}};
  for (const auto& field : fields) {
    auto value = read_sysctl(proc_dir + "/" + field.name);
    if (!value) return std::unexpected(value.error());
    *field.value = *value;
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_MSGQUEUE, &rl) != 0) return fail_errno("getrlimit(RLIMIT_MSGQUEUE)");
  limits.rlimit_msgqueue_soft = rl.rlim_cur;
  limits.rlimit_msgqueue_hard = rl.rlim_max;
  return limits;
}

Result<std::vector<std::string>> list_queues() {
  std::vector<std::string> names;
  if (is_mqueue_fs(kMqueueMount)) {
    int dir_fd = ::open(kMqueueMount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail_errno(cat("open ", kMqueueMount));
    if (auto read = read_queue_names(dir_fd, names); !read) return std::unexpected(read.error());
  } else if (auto detached = list_via_detached_mount()) {
    names = std::move(*detached);
  } else {
    auto listed = list_via_private_mount();
    if (!listed) return std::unexpected(listed.error());
    names = std::move(*listed);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::vector<std::string>> list_queues_detached() {
  return list_via_detached_mount();
}

Result<std::vector<std::string>> list_queues_in_child() {
  return list_via_private_mount();
}

Result<QueueAttributes> queue_attributes(int fd) {
  mq_attr attr{};
  if (::mq_getattr(fd, &attr) != 0) return fail_errno("mq_getattr");
  struct stat info {};
  if (::fstat(fd, &info) != 0) return fail_errno("fstat of a message queue");
  QueueAttributes attributes;
  attributes.max_messages = attr.mq_maxmsg;
  attributes.message_size = attr.mq_msgsize;
  attributes.current_messages = attr.mq_curmsgs;
  attributes.owner_uid = info.st_uid;
  attributes.owner_gid = info.st_gid;
  attributes.mode = info.st_mode & 07777;
  return attributes;
}

Result<QueueAttributes> queue_attributes(const std::string& path) {
  mqd_t queue = ::mq_open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (queue < 0) return fail_errno(cat("mq_open ", path));
  UniqueFd fd(queue);
  auto attributes = queue_attributes(fd.get());
  if (!attributes)
    return fail_errno(cat(attributes.error().message, " ", path), attributes.error().errnum);
  return attributes;
}

Result<OpenedQueue> create_or_open_queue(const std::string& path, long max_messages,
                                         long message_size, mode_t mode) {
  mq_attr attr{};
  attr.mq_maxmsg = max_messages;
  attr.mq_msgsize = message_size;
  mqd_t queue = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode, &attr);
  if (queue >= 0) {
    OpenedQueue opened{UniqueFd(queue), true};
    if (::fchmod(opened.fd.get(), mode) != 0) {
      int saved = errno;
      ::mq_unlink(path.c_str());
      return fail_errno(cat("fchmod ", path), saved);
    }
    return opened;
  }
  if (errno != EEXIST) {
    int saved = errno;
    return fail_errno(cat("mq_open ", path, " (max-messages ", max_messages, ", message-size ",
                          message_size, ")"),
                      saved, create_hint(saved));
  }
  queue = ::mq_open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (queue < 0) {
    int saved = errno;
    return fail_errno(cat("mq_open existing ", path), saved, create_hint(saved));
  }
  return OpenedQueue{UniqueFd(queue), false};
}

Status set_queue_owner(int fd, uid_t uid, gid_t gid) {
  if (::fchown(fd, uid, gid) != 0) {
    return fail_errno(cat("fchown message queue to ", uid, ":", gid), errno,
                      "changing a queue's owner needs CAP_CHOWN (run as root)");
  }
  return {};
}

Status set_queue_mode(int fd, mode_t mode) {
  if (::fchmod(fd, mode) != 0) {
    return fail_errno("fchmod message queue", errno,
                      "changing the mode of another user's queue needs CAP_FOWNER (run as root)");
  }
  return {};
}

Status unlink_queue(const std::string& path) {
  if (::mq_unlink(path.c_str()) != 0) return fail_errno(cat("mq_unlink ", path));
  return {};
}

unsigned kernel_word_bytes() {
  // kernel.arch (newer kernels) is the kernel's machine even under qemu-user, which fakes
  // uname(2); uname(2) is the fallback (its machine is the kernel's unless PER_LINUX32).
  static const unsigned word_bytes = [] {
    std::string machine;
    if (auto arch = read_text_file("/proc/sys/kernel/arch")) {
      machine = arch->substr(0, arch->find('\n'));
    } else if (utsname names{}; ::uname(&names) == 0) {
      machine = names.machine;
    }
    if (machine.empty()) return static_cast<unsigned>(sizeof(void*));
    const bool wide = machine.ends_with("64") || machine == "s390x" || machine == "alpha";
    return wide ? 8U : 4U;
  }();
  return word_bytes;
}

std::uint64_t queue_charge_bytes(long max_messages, long message_size, unsigned word_bytes) {
  // struct msg_msg: list_head (2 words), long m_type, size_t m_ts, next, security = 6 words.
  // struct posix_msg_tree_node: rb_node (3 words), list_head (2 words), int priority, padded
  // to a word = 6 words.
  const std::uint64_t msg_msg_bytes = 6ULL * word_bytes;
  const std::uint64_t tree_node_bytes = 6ULL * word_bytes;
  const auto messages = static_cast<std::uint64_t>(max_messages);
  const auto tree_nodes = static_cast<std::uint64_t>(std::min(max_messages, kMqPrioMax));
  return messages * msg_msg_bytes + tree_nodes * tree_node_bytes +
         messages * static_cast<std::uint64_t>(message_size);
}

Status set_msgqueue_rlimit(std::uint64_t soft, std::uint64_t hard) {
  rlimit rl{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  if (::setrlimit(RLIMIT_MSGQUEUE, &rl) != 0) {
    return fail_errno(
        cat("setrlimit(RLIMIT_MSGQUEUE, ", std::to_string(soft), ", ", std::to_string(hard), ')'),
        errno, "raising the hard limit needs CAP_SYS_RESOURCE");
  }
  return {};
}

}  // namespace ipcrt::platform
