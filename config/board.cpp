// Board profile loading and validation.
#include "config/board.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::config {
namespace {

// ordered_json like the manifest parser: one nlohmann instantiation in the binary, not two
// (about 30 KB), and unknown keys are reported in file order.
using json = nlohmann::ordered_json;

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
    {"msg_max", &MqueueSysctls::msg_max, 1, 65536},
    {"msgsize_max", &MqueueSysctls::msgsize_max, 128, 16L * 1024 * 1024},
    {"msg_default", &MqueueSysctls::msg_default, 1, 65536},
    {"msgsize_default", &MqueueSysctls::msgsize_default, 128, 16L * 1024 * 1024},
    {"queues_max", &MqueueSysctls::queues_max, 0, INT_MAX},
};

struct Architecture {
  const char* debian;
  const char* triplet;
};
constexpr Architecture kArchitectures[] = {{"arm64", "aarch64-linux-gnu"},
                                           {"armhf", "arm-linux-gnueabihf"}};

// Errors of one board.json: "FILE: /POINTER: error: WHAT" with a hint.
class BoardErrors {
 public:
  explicit BoardErrors(std::string file) : file_(std::move(file)) {}
  [[nodiscard]] std::unexpected<Error> at(std::string_view pointer, std::string_view what,
                                          std::string hint = {}) const {
    return fail(cat(file_, ": ", pointer.empty() ? "/" : pointer, ": error: ", what),
                std::move(hint));
  }

 private:
  std::string file_;
};

// [a-z0-9][a-z0-9-]*, at most 40 characters (like service names; no <regex>: it pulls in
// the locale machinery the binary avoids).
bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 40 || name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Status check_keys(const json& object, std::initializer_list<const char*> allowed,
                  const std::string& pointer, const BoardErrors& errors) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) {
      return errors.at(cat(pointer, "/", key), cat("unknown key \"", key, "\""),
                       cat("allowed here: ", join(allowed, ", ")));
    }
  }
  return {};
}

Result<std::string> required_string(const json& object, const char* key, const std::string& pointer,
                                    const BoardErrors& errors) {
  auto it = object.find(key);
  if (it == object.end()) return errors.at(pointer, cat("missing required key \"", key, "\""));
  if (!it->is_string() || it->get<std::string>().empty()) {
    return errors.at(cat(pointer, "/", key), "must be a non-empty string");
  }
  return it->get<std::string>();
}

Result<long> integer_in_range(const json& value, long min, long max, const std::string& pointer,
                              const BoardErrors& errors, std::string_view limit_name) {
  if (!value.is_number_integer()) return errors.at(pointer, "must be an integer");
  auto number = value.get<long long>();
  if (number < min || number > max) {
    return errors.at(pointer, cat(number, " is outside ", min, "..", max),
                     cat("the range is the ", limit_name));
  }
  return static_cast<long>(number);
}

Result<MqueueSysctls> parse_mqueue(const json& value, const BoardErrors& errors) {
  if (!value.is_object()) return errors.at("/mqueue", "must be an object of sysctl values");
  MqueueSysctls sysctls;
  for (const auto& [key, item] : value.items()) {
    const SysctlSpec* spec = nullptr;
    for (const auto& candidate : kSysctls) {
      if (key == candidate.name) spec = &candidate;
    }
    if (spec == nullptr) {
      return errors.at(cat("/mqueue/", key), cat("unknown sysctl \"", key, "\""),
                       "allowed: msg_max, msgsize_max, msg_default, msgsize_default, queues_max");
    }
    auto number = integer_in_range(item, spec->min, spec->max, cat("/mqueue/", key), errors,
                                   "kernel's hard limit for fs.mqueue." + key);
    if (!number) return std::unexpected(number.error());
    sysctls.*(spec->field) = *number;
  }
  // The kernel clamps a default to its maximum silently; say so instead.
  if (sysctls.msg_default && sysctls.msg_max && *sysctls.msg_default > *sysctls.msg_max) {
    return errors.at("/mqueue/msg_default", "is above msg_max", "lower it or raise msg_max");
  }
  if (sysctls.msgsize_default && sysctls.msgsize_max &&
      *sysctls.msgsize_default > *sysctls.msgsize_max) {
    return errors.at("/mqueue/msgsize_default", "is above msgsize_max",
                     "lower it or raise msgsize_max");
  }
  return sysctls;
}

Result<QemuProfile> parse_qemu(const json& value, const BoardErrors& errors) {
  if (!value.is_object()) return errors.at("/qemu", "must be an object");
  if (auto keys = check_keys(value, {"machine", "cpu", "memory-mib", "console", "kernel-package"},
                             "/qemu", errors);
      !keys) {
    return std::unexpected(keys.error());
  }
  QemuProfile qemu;
  for (auto [key, target] :
       {std::pair{"machine", &qemu.machine}, std::pair{"cpu", &qemu.cpu},
        std::pair{"console", &qemu.console}, std::pair{"kernel-package", &qemu.kernel_package}}) {
    auto text = required_string(value, key, "/qemu", errors);
    if (!text) return std::unexpected(text.error());
    *target = *text;
  }
  if (qemu.kernel_package.rfind("linux-image-", 0) != 0) {
    return errors.at("/qemu/kernel-package", "must name a Debian linux-image-* package",
                     "e.g. linux-image-arm64 or linux-image-armmp");
  }
  auto memory = value.find("memory-mib");
  if (memory == value.end()) return errors.at("/qemu", "missing required key \"memory-mib\"");
  auto mib = integer_in_range(*memory, 64, 4096, "/qemu/memory-mib", errors,
                              "memory a test image boots with");
  if (!mib) return std::unexpected(mib.error());
  qemu.memory_mib = static_cast<int>(*mib);
  return qemu;
}

Result<Board> parse_document(const json& document, const BoardErrors& errors,
                             const std::string& directory) {
  if (!document.is_object()) return errors.at("", "a board profile is a JSON object");
  if (auto keys = check_keys(
          document,
          {"name", "description", "architecture", "toolchain", "mqueue", "manifest", "qemu"}, "",
          errors);
      !keys) {
    return std::unexpected(keys.error());
  }
  Board board;
  board.directory = directory;
  for (auto [key, target] :
       {std::pair{"name", &board.name}, std::pair{"description", &board.description},
        std::pair{"architecture", &board.architecture}, std::pair{"toolchain", &board.toolchain},
        std::pair{"manifest", &board.manifest}}) {
    auto text = required_string(document, key, "", errors);
    if (!text) return std::unexpected(text.error());
    *target = *text;
  }
  if (!valid_name(board.name)) {
    return errors.at("/name", cat("invalid board name \"", board.name, "\""),
                     "use [a-z0-9][a-z0-9-]*, at most 40 characters");
  }
  if (!directory.empty() && base_name(directory) != board.name) {
    return errors.at("/name", cat("\"", board.name, "\" differs from its directory ", directory),
                     "a board lives in boards/<name>/board.json");
  }
  const Architecture* architecture = nullptr;
  for (const auto& candidate : kArchitectures) {
    if (board.architecture == candidate.debian) architecture = &candidate;
  }
  if (architecture == nullptr) {
    return errors.at("/architecture", cat("unknown architecture \"", board.architecture, "\""),
                     "use arm64 or armhf (Debian's names)");
  }
  if (board.toolchain != architecture->triplet) {
    return errors.at(
        "/toolchain", cat("\"", board.toolchain, "\" does not build for ", board.architecture),
        cat("use ", architecture->triplet, " (toolchains/", architecture->triplet, ".cmake)"));
  }
  if (auto mqueue = document.find("mqueue"); mqueue != document.end()) {
    auto sysctls = parse_mqueue(*mqueue, errors);
    if (!sysctls) return std::unexpected(sysctls.error());
    board.mqueue = *sysctls;
  }
  if (auto qemu = document.find("qemu"); qemu != document.end()) {
    auto profile = parse_qemu(*qemu, errors);
    if (!profile) return std::unexpected(profile.error());
    board.qemu = *profile;
  }
  std::string manifest = board.manifest.front() == '/'
                             ? normal_absolute(board.manifest)
                             : normal_absolute(cat(directory, "/", board.manifest));
  if (!is_file_type(manifest, S_IFREG)) {
    return errors.at("/manifest", cat("no manifest at ", manifest),
                     "name a file next to board.json, e.g. \"gateway.json\"");
  }
  board.manifest = manifest;
  return board;
}

}  // namespace

Result<Board> parse_board(std::string_view text, const std::string& file,
                          const std::string& directory) {
  BoardErrors errors(file);
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) {
    return errors.at("", error.what(), "board.json must be valid JSON");
  }
  return parse_document(document, errors, directory);
}

Result<Board> load_board_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) {
    auto error = text.error();
    error.message = cat("cannot read board profile: ", error.message);
    return std::unexpected(error);
  }
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
  if (!valid_name(name)) {
    return fail(cat("invalid board name \"", name, "\""),
                "board names are [a-z0-9][a-z0-9-]*, at most 40 characters");
  }
  for (const auto& dir : dirs) {
    auto candidate = cat(dir, "/", name, "/board.json");
    if (::access(candidate.c_str(), F_OK) == 0) return load_board_file(candidate);
  }
  return fail(cat("no board \"", name, "\" in ", join(dirs, ", ")),
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
