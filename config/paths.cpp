// Clean paths, device paths and the writable-paths rules.
#include "config/paths.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

constexpr std::size_t kPathMax = 4096;  // PATH_MAX, with its NUL

std::string hex_byte(unsigned char c) {
  constexpr char kHex[] = "0123456789ABCDEF";
  return cat("0x", kHex[c >> 4U], kHex[c & 0xfU]);
}

// Every sandbox's /dev has these already (SPEC §4.3).
constexpr std::string_view kMinimalDev[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                            "/dev/random", "/dev/urandom", "/dev/tty"};

struct RefusedDevice {
  std::string_view path;
  std::string_view reason;
};

constexpr RefusedDevice kRefusedDevices[] = {
    {"/dev/mem", "it is physical memory: reading or writing it reads or rewrites the kernel"},
    {"/dev/kmem", "it is kernel memory: reading or writing it reads or rewrites the kernel"},
    {"/dev/port", "it is the I/O ports: writing them drives the hardware behind the kernel's back"},
    {"/dev/shm",
     "every service has a /dev/shm of its own; grant shared-memory objects through a "
     "shared-memory plug"},
    {"/dev/mqueue",
     "queues are reached through posix-mq plugs, never through the mqueue "
     "filesystem"},
    {"/dev/pts", "every service has a pseudo-terminal directory of its own"},
};

}  // namespace

std::string check_clean_path(std::string_view path, std::string_view what) {
  if (path.empty()) return cat("empty ", what);
  if (!path.starts_with('/'))
    return cat(what, " \"", path, "\" is not absolute: start it with '/'");
  if (path.size() >= kPathMax) {
    return cat(what, " is ", path.size(), " bytes long: use at most ", kPathMax - 1, " bytes");
  }
  for (char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return cat(what, " \"", path, "\" contains control character ", hex_byte(byte));
    }
  }
  if (path == "/") return {};
  if (path.ends_with('/')) {
    return cat(what, " \"", path, "\" ends with '/': write \"", path.substr(0, path.size() - 1),
               "\"");
  }
  std::size_t at = 1;
  while (at <= path.size()) {
    const std::size_t end = std::min(path.find('/', at), path.size());
    const std::string_view component = path.substr(at, end - at);
    if (component.empty() || component == "." || component == "..") {
      return cat(what, " \"", path, "\" is not clean (",
                 component.empty() ? std::string("\"//\"") : cat("a \"", component, "\" component"),
                 "): write the path it means, without \"//\", \"/.\" or \"/..\"");
    }
    at = end + 1;
  }
  return {};
}

std::string check_device_path(std::string_view path) {
  if (auto problem = check_clean_path(path, "device path"); !problem.empty()) return problem;
  if (!path.starts_with("/dev/")) {
    return cat("device path \"", path,
               "\" is not under /dev: name a device node, e.g. "
               "\"/dev/ttyUSB0\"");
  }
  if (auto bad = path.find_first_of("?[]{}"); bad != std::string_view::npos) {
    return cat("device path \"", path, "\" contains '", path[bad],
               "': the only pattern is one '*' in the last component, e.g. \"/dev/ttyUSB*\"");
  }
  const auto star = path.find('*');
  if (star != std::string_view::npos) {
    if (path.find('*', star + 1) != std::string_view::npos ||
        path.find('/', star) != std::string_view::npos) {
      return cat("device path \"", path,
                 "\": a pattern has one '*', in the last component, e.g. \"/dev/ttyUSB*\"");
    }
    if (path == "/dev/*") {
      return "device path \"/dev/*\" would grant every device of the host (its disks and "
             "memory too): name the devices, or a pattern such as \"/dev/ttyUSB*\"";
    }
  }
  for (auto minimal : kMinimalDev) {
    if (path == minimal) {
      return cat("\"", path, "\" is in every service's /dev already: remove it from \"devices\"");
    }
  }
  for (const auto& refused : kRefusedDevices) {
    if (path_relation(path, refused.path) != PathRelation::Unrelated) {
      return cat("device path \"", path, "\" may not be granted",
                 path == refused.path ? std::string() : cat(" (it is under ", refused.path, ")"),
                 ": ", refused.reason);
    }
    if (star != std::string_view::npos && device_matches(path, refused.path)) {
      return cat("device pattern \"", path, "\" also matches ", refused.path,
                 ", which may not be granted: ", refused.reason,
                 "; make the pattern narrower, e.g. \"/dev/ttyUSB*\"");
    }
  }
  return {};
}

bool device_matches(std::string_view entry, std::string_view node) {
  const auto star = entry.find('*');
  if (star == std::string_view::npos) return entry == node;
  const std::string_view prefix = entry.substr(0, star);
  const std::string_view suffix = entry.substr(star + 1);
  if (node.size() < prefix.size() + suffix.size()) return false;
  if (!node.starts_with(prefix) || !node.ends_with(suffix)) return false;
  const std::string_view middle =
      node.substr(prefix.size(), node.size() - prefix.size() - suffix.size());
  return middle.find('/') == std::string_view::npos;
}

std::string check_device_node(std::string_view node) {
  for (const auto& refused : kRefusedDevices) {
    const PathRelation relation = path_relation(node, refused.path);
    if (relation == PathRelation::Equal || relation == PathRelation::Inside) {
      return cat(refused.path, ": ", refused.reason);
    }
  }
  return {};
}

PathRelation path_relation(std::string_view path, std::string_view other) {
  if (path == other) return PathRelation::Equal;
  auto below = [](std::string_view inner, std::string_view outer) {
    if (outer == "/") return inner.size() > 1;
    return inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/';
  };
  if (below(path, other)) return PathRelation::Inside;
  if (below(other, path)) return PathRelation::Contains;
  return PathRelation::Unrelated;
}

std::vector<ProtectedPath> runtime_directories() {
  return {{std::string(kRuntimeDirectories[0]), "the runtime's configuration"},
          {std::string(kRuntimeDirectories[1]), "the runtime's run directory"},
          {std::string(kRuntimeDirectories[2]), "the runtime's state", true}};
}

std::string state_directory_path(std::string_view state_root, std::string_view manifest,
                                 std::string_view service) {
  return cat(state_root, '/', manifest, '/', service);
}

void check_writable_paths(const Service& service, const WritablePathRules& rules,
                          Diagnostics& diagnostics) {
  // The protected paths as written and, where they exist, resolved: a symlinked /etc/ipcrt is
  // still the runtime's.
  std::vector<ProtectedPath> protected_paths = rules.protected_paths;
  if (rules.resolve) {
    for (const auto& item : rules.protected_paths) {
      if (auto real = rules.resolve(item.path); real && *real != item.path) {
        protected_paths.push_back({*real, item.what, item.state_root});
      }
    }
  }
  std::string own = rules.own_state_directory;
  if (!own.empty() && rules.resolve) {
    if (auto real = rules.resolve(own)) own = *real;
  }
  for (const auto& entry : service.writable_paths) {
    const std::string& path = entry.path;
    const std::string& at = entry.pointer;
    std::vector<std::string> seen{path};
    if (rules.resolve) {
      auto real = rules.resolve(path);
      if (!real) {
        diagnostics.error(at, cat("writable path \"", path, "\" does not exist on this device"),
                          "create it before the service starts (it is bound into the service's "
                          "view as it is), or remove it");
        continue;
      }
      if (*real != path) seen.push_back(*real);
    }
    bool reported = false;
    for (const auto& candidate : seen) {
      const bool own_path = !own.empty() && (path_relation(candidate, own) == PathRelation::Equal ||
                                             path_relation(candidate, own) == PathRelation::Inside);
      for (const auto& item : protected_paths) {
        if (reported) break;
        const PathRelation relation = path_relation(candidate, item.path);
        if (relation == PathRelation::Unrelated) continue;
        // Inside its own state directory, the directories around it do not count.
        const PathRelation around =
            own.empty() ? PathRelation::Unrelated : path_relation(own, item.path);
        if (own_path && (around == PathRelation::Inside || around == PathRelation::Equal)) {
          continue;
        }
        const std::string written = candidate == path
                                        ? cat('"', path, '"')
                                        : cat('"', path, "\" (resolved: \"", candidate, "\")");
        const char* how = relation == PathRelation::Equal    ? " is "
                          : relation == PathRelation::Inside ? " lies inside "
                                                             : " contains ";
        std::string hint =
            "a service may not write the runtime's own files: name a directory of "
            "the service's own";
        if (item.state_root) {
          hint = own.empty() ? std::string(
                                   "a service may not write the runtime's state; "
                                   "\"state-directory\": true gives it a directory of "
                                   "its own there")
                             : cat("its own state directory, ", own,
                                   ", is writable already (\"state-directory\")");
        }
        diagnostics.error(at, cat("writable path ", written, how, item.what, " (", item.path, ")"),
                          std::move(hint));
        reported = true;
      }
    }
  }
}

}  // namespace ipcrt::config
