// Board profile loading and validation.
#include "config/board.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/file.hpp"
#include "common/mqueue_limits.hpp"
#include "common/text.hpp"
#include "config/json_reader.hpp"
#include "config/names.hpp"
#include "config/paths.hpp"

namespace ipcrt::config {
namespace {

// Path helpers on plain strings and stat(2): std::filesystem adds about 80 KB to the static
// binary for the four operations needed here.
bool is_file_type(const std::string& path, mode_t type) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && (info.st_mode & S_IFMT) == type;
}

// Lexically normal absolute form: "/a/b/../c/./d" -> "/a/c/d".
std::string normal_absolute(const std::string& path) {
  std::string full = path;
  if (full.empty() || full.front() != '/') {
    char cwd[PATH_MAX];
    full = cat(::getcwd(cwd, sizeof cwd) != nullptr ? cwd : "/", "/", path);
  }
  std::vector<std::string_view> parts;
  std::string_view rest = full;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string normal;
  for (auto part : parts) normal += cat("/", part);
  return normal.empty() ? "/" : normal;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One sysctl of /proc/sys/fs/mqueue with the range the kernel accepts (ipc/mq_sysctl.c:
// MIN_MSGMAX, HARD_MSGMAX, MIN_MSGSIZEMAX, HARD_MSGSIZEMAX).
struct SysctlSpec {
  const char* name;
  std::optional<long> MqueueSysctls::*field;
  long min;
  long max;
};

constexpr SysctlSpec kSysctls[] = {
    // Maxima first: apply_board_sysctls writes in this order.
    {"msg_max", &MqueueSysctls::msg_max, 1, kHardMsgMax},
    {"msgsize_max", &MqueueSysctls::msgsize_max, 128, kHardMsgSizeMax},
    {"msg_default", &MqueueSysctls::msg_default, 1, kHardMsgMax},
    {"msgsize_default", &MqueueSysctls::msgsize_default, 128, kHardMsgSizeMax},
    {"queues_max", &MqueueSysctls::queues_max, 0, INT_MAX},
};

struct Architecture {
  const char* debian;
  const char* triplet;
};
constexpr Architecture kArchitectures[] = {{"arm64", "aarch64-linux-gnu"},
                                           {"armhf", "arm-linux-gnueabihf"}};

void read_mqueue(JsonReader& reader, const Json& value, MqueueSysctls& sysctls) {
  if (!reader.expect(value.is_object(), value, "/mqueue", "an object of fs.mqueue sysctl values")) {
    return;
  }
  std::vector<std::string_view> names;
  for (const auto& spec : kSysctls) names.push_back(spec.name);
  reader.check_keys(value, "/mqueue", names, "the mqueue sysctls");
  for (const auto& spec : kSysctls) {
    auto it = value.find(spec.name);
    if (it == value.end()) continue;
    if (auto number = reader.integer(*it, cat("/mqueue/", spec.name), spec.min, spec.max,
                                     cat("the kernel refuses more for fs.mqueue.", spec.name))) {
      sysctls.*(spec.field) = static_cast<long>(*number);
    }
  }
  // The kernel clamps a default to its maximum silently; say so instead.
  if (sysctls.msg_default && sysctls.msg_max && *sysctls.msg_default > *sysctls.msg_max) {
    reader.error("/mqueue/msg_default", "is above msg_max", "lower it or raise msg_max");
  }
  if (sysctls.msgsize_default && sysctls.msgsize_max &&
      *sysctls.msgsize_default > *sysctls.msgsize_max) {
    reader.error("/mqueue/msgsize_default", "is above msgsize_max",
                 "lower it or raise msgsize_max");
  }
}

// Reads `key` of `object` as a required non-empty string into `target`.
void read_required_text(JsonReader& reader, const Json& object, const std::string& pointer,
                        std::string_view key, std::string& target) {
  if (const Json* value = reader.required(object, pointer, key, "every board profile sets it")) {
    if (auto text = reader.non_empty_text(*value, cat(pointer, '/', key))) target = *text;
  }
}

std::optional<QemuProfile> read_qemu(JsonReader& reader, const Json& value) {
  if (!reader.expect_object(value, "/qemu")) return std::nullopt;
  reader.check_keys(value, "/qemu", {"machine", "cpu", "memory-mib", "console", "kernel-package"},
                    "the qemu profile");
  QemuProfile qemu;
  read_required_text(reader, value, "/qemu", "machine", qemu.machine);
  read_required_text(reader, value, "/qemu", "cpu", qemu.cpu);
  read_required_text(reader, value, "/qemu", "console", qemu.console);
  read_required_text(reader, value, "/qemu", "kernel-package", qemu.kernel_package);
  if (!qemu.kernel_package.empty() && !qemu.kernel_package.starts_with("linux-image-")) {
    reader.error("/qemu/kernel-package", "must name a Debian linux-image-* package",
                 "e.g. linux-image-arm64 or linux-image-armmp");
  }
  if (const Json* memory = reader.required(value, "/qemu", "memory-mib",
                                           "the memory the test image boots with, e.g. 1024")) {
    if (auto mib = reader.integer(*memory, "/qemu/memory-mib", 64, 4096,
                                  "the memory a test image boots with")) {
      qemu.memory_mib = static_cast<int>(*mib);
    }
  }
  return qemu;
}

std::optional<WatchdogProfile> read_watchdog(JsonReader& reader, const Json& value) {
  if (!reader.expect_object(value, "/watchdog")) return std::nullopt;
  reader.check_keys(value, "/watchdog", {"device", "timeout-s"}, "the watchdog");
  WatchdogProfile watchdog;
  if (auto device = value.find("device"); device != value.end()) {
    if (auto path = reader.non_empty_text(*device, "/watchdog/device")) {
      // Only a device node: ipcrt opens it as PID 1, before any service runs.
      if (!path->starts_with("/dev/") || path->find("/..") != std::string::npos ||
          path->find("/./") != std::string::npos || path->back() == '/') {
        reader.error("/watchdog/device", cat("\"", *path, "\" is not a device under /dev"),
                     "e.g. \"/dev/watchdog\" or \"/dev/watchdog0\"");
      } else {
        watchdog.device = *path;
      }
    }
  }
  if (const Json* timeout = reader.required(
          value, "/watchdog", "timeout-s", "the seconds without a pet before the reset, e.g. 30")) {
    if (auto seconds =
            reader.integer(*timeout, "/watchdog/timeout-s", 1, kMaxWatchdogTimeoutSeconds,
                           "an hour without a reset is no longer a watchdog")) {
      watchdog.timeout_s = static_cast<unsigned>(*seconds);
    }
  }
  return watchdog;
}

// Whether `path` is `dir` or lies inside it (both clean).
bool is_within(std::string_view path, std::string_view dir) {
  return path == dir ||
         (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

// `mounts`: fstab-like entries PID-1 mode mounts, in order, before it plans (SPEC §4a).
std::vector<BoardMount> read_mounts(JsonReader& reader, const Json& value) {
  std::vector<BoardMount> mounts;
  if (!reader.expect(value.is_array(), value, "/mounts",
                     "an array of {\"source\", \"target\", \"type\", \"options\"}")) {
    return mounts;
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat("/mounts/", i);
    const Json& entry = value[i];
    if (!reader.expect_object(entry, at)) continue;
    reader.check_keys(entry, at, {"source", "target", "type", "options"}, "a mount");
    BoardMount mount;
    read_required_text(reader, entry, at, "source", mount.source);
    read_required_text(reader, entry, at, "target", mount.target);
    read_required_text(reader, entry, at, "type", mount.type);
    bool good = !mount.source.empty() && !mount.target.empty() && !mount.type.empty();
    for (std::string_view tag : {"LABEL=", "UUID=", "PARTUUID=", "PARTLABEL="}) {
      if (!mount.source.starts_with(tag)) continue;
      reader.error(cat(at, "/source"), cat("\"", mount.source, "\": ipcrt resolves no ", tag),
                   "name the node (\"/dev/mmcblk0p3\"), or a /dev/disk/by-* link where the "
                   "board's initramfs makes them");
      good = false;
    }
    if (good && mount.source.find('/') != std::string::npos) {
      auto problem = check_clean_path(mount.source, "mount source");
      if (problem.empty() && !mount.source.starts_with("/dev/")) {
        problem = cat("\"", mount.source, "\" is not a device under /dev");
      }
      if (!problem.empty()) {
        reader.error(cat(at, "/source"), problem,
                     "a device node (\"/dev/vda\"), or a name for a filesystem without one "
                     "(\"tmpfs\")");
        good = false;
      }
    }
    if (!mount.target.empty()) {
      auto problem = check_clean_path(mount.target, "mount target");
      if (problem.empty() && mount.target == "/") problem = "\"/\" is the initramfs itself";
      for (std::string_view own : {"/proc", "/sys", "/dev", "/run"}) {
        if (problem.empty() && is_within(mount.target, own)) {
          problem =
              cat("\"", mount.target, "\" is under ", own, ", which ipcrt mounts itself as PID 1");
        }
      }
      if (!problem.empty()) {
        reader.error(cat(at, "/target"), problem, "e.g. \"/var/lib/ipcrt\" or \"/data\"");
        good = false;
      }
    }
    for (char c : mount.type) {
      if ((c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_') {
        reader.error(cat(at, "/type"), cat("\"", mount.type, "\" is not a filesystem type"),
                     "as /proc/filesystems names them: \"ext4\", \"f2fs\", \"vfat\"");
        good = false;
        break;
      }
    }
    mount.options = "defaults";
    if (auto options = entry.find("options"); options != entry.end()) {
      if (auto text = reader.non_empty_text(*options, cat(at, "/options"))) mount.options = *text;
    }
    auto parsed = parse_mount_options(mount.options);
    if (!parsed.error.empty()) {
      reader.error(cat(at, "/options"), parsed.error,
                   "the kernel's words, comma-separated: \"noatime,commit=30\"");
      good = false;
    }
    mount.flags = parsed.flags;
    mount.data = parsed.data;
    for (std::size_t j = 0; good && j < mounts.size(); ++j) {
      if (mounts[j].target == mount.target) {
        reader.error(cat(at, "/target"),
                     cat("\"", mount.target, "\" is mounted already by /mounts/", j),
                     "one entry per target");
        good = false;
      } else if (is_within(mounts[j].target, mount.target)) {
        // Mounted in order: the later one would hide the earlier.
        reader.error(cat(at, "/target"),
                     cat("\"", mount.target, "\" holds \"", mounts[j].target, "\" of /mounts/", j,
                         ", which would be hidden"),
                     "list the outer filesystem first, as in fstab");
        good = false;
      }
    }
    if (good) mounts.push_back(std::move(mount));
  }
  return mounts;
}

void read_board(JsonReader& reader, const Json& document, const std::string& directory,
                Board& board) {
  if (!document.is_object()) {
    reader.error("", cat("a board profile is a JSON object, got ", json_type_name(document)));
    return;
  }
  reader.check_keys(document, "",
                    {"name", "description", "architecture", "toolchain", "mqueue", "manifest",
                     "qemu", "watchdog", "mounts"},
                    "a board profile");
  board.directory = directory;
  read_required_text(reader, document, "", "name", board.name);
  read_required_text(reader, document, "", "description", board.description);
  read_required_text(reader, document, "", "architecture", board.architecture);
  read_required_text(reader, document, "", "toolchain", board.toolchain);
  read_required_text(reader, document, "", "manifest", board.manifest);
  if (!board.name.empty()) {
    if (auto problem = check_name(board.name, "board name"); !problem.empty()) {
      reader.error("/name", problem);
    } else if (!directory.empty() && base_name(directory) != board.name) {
      reader.error("/name", cat("\"", board.name, "\" differs from its directory ", directory),
                   "a board lives in boards/<name>/board.json");
    }
  }
  const Architecture* architecture = nullptr;
  for (const auto& candidate : kArchitectures) {
    if (board.architecture == candidate.debian) architecture = &candidate;
  }
  if (architecture == nullptr && !board.architecture.empty()) {
    reader.error("/architecture", cat("unknown architecture \"", board.architecture, "\""),
                 "use arm64 or armhf (Debian's names)");
  }
  if (architecture != nullptr && !board.toolchain.empty() &&
      board.toolchain != architecture->triplet) {
    reader.error(
        "/toolchain", cat("\"", board.toolchain, "\" does not build for ", board.architecture),
        cat("use ", architecture->triplet, " (toolchains/", architecture->triplet, ".cmake)"));
  }
  if (auto mqueue = document.find("mqueue"); mqueue != document.end()) {
    read_mqueue(reader, *mqueue, board.mqueue);
  }
  if (auto qemu = document.find("qemu"); qemu != document.end()) {
    board.qemu = read_qemu(reader, *qemu);
  }
  if (auto watchdog = document.find("watchdog"); watchdog != document.end()) {
    board.watchdog = read_watchdog(reader, *watchdog);
  }
  if (auto mounts = document.find("mounts"); mounts != document.end()) {
    board.mounts = read_mounts(reader, *mounts);
  }
  if (!board.manifest.empty()) {
    std::string manifest = board.manifest.front() == '/'
                               ? normal_absolute(board.manifest)
                               : normal_absolute(cat(directory, "/", board.manifest));
    if (!is_file_type(manifest, S_IFREG)) {
      reader.error("/manifest", cat("no manifest at ", manifest),
                   "name a file next to board.json, e.g. \"gateway.json\"");
    }
    board.manifest = manifest;
  }
}

}  // namespace

Result<Board> parse_board(std::string_view text, const std::string& file,
                          const std::string& directory) {
  Diagnostics diagnostics;
  Board board;
  if (auto document = parse_json(text, diagnostics)) {
    read_document(diagnostics, [&] {
      JsonReader reader(diagnostics);
      read_board(reader, *document, directory, board);
    });
  }
  if (diagnostics.has_errors()) {
    // Every problem, one compiler-style line each, as `validate` prints a manifest's.
    std::string lines = diagnostics.format(file);
    lines.pop_back();
    return fail(std::move(lines));
  }
  return board;
}

Result<Board> load_board_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error().wrap("cannot read board profile"));
  return parse_board(*text, path, parent_of(normal_absolute(path)));
}

std::vector<std::string> default_board_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("IPCRT_BOARDS"); env != nullptr && *env != '\0') {
    std::string_view list(env);
    while (!list.empty()) {
      auto colon = list.find(':');
      auto dir = list.substr(0, colon);
      if (!dir.empty()) dirs.emplace_back(dir);
      list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
    }
  }
  dirs.emplace_back("/etc/ipcrt/boards");
  dirs.emplace_back("/usr/share/ipcrt/boards");
  return dirs;
}

Result<Board> find_board(const std::string& name, const std::vector<std::string>& dirs) {
  if (name.find('/') != std::string::npos) {
    return load_board_file(is_file_type(name, S_IFDIR) ? cat(name, "/board.json") : name);
  }
  if (auto problem = check_name(name, "board name"); !problem.empty()) {
    return fail(cat("invalid board name \"", name, "\": ", problem));
  }
  for (const auto& dir : dirs) {
    auto candidate = cat(dir, "/", name, "/board.json");
    if (::access(candidate.c_str(), F_OK) == 0) return load_board_file(candidate);
  }
  return fail(
      cat("no board \"", name, "\" in ", join(dirs, ", ")),
      "install boards/<name>/ under /etc/ipcrt/boards, or set IPCRT_BOARDS to a boards directory");
}

std::vector<SysctlSetting> mqueue_sysctl_settings(const MqueueSysctls& sysctls) {
  std::vector<SysctlSetting> settings;
  for (const auto& spec : kSysctls) {
    if (const auto& value = sysctls.*(spec.field)) settings.push_back({spec.name, *value});
  }
  return settings;
}

}  // namespace ipcrt::config
