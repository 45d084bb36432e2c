#include "runtime/launch_view.hpp"

#include "common/text.hpp"
#include "config/capabilities.hpp"

namespace ipcrt::runtime {
namespace {

// "size=16777216,mode=1777" -> "size=16777216": the mode is the same for every sandbox.
std::string size_of(const std::string& options) {
  const auto comma = options.find(',');
  return comma == std::string::npos ? options : options.substr(0, comma);
}

std::string joined(const char* const* begin, const char* const* end) {
  std::string out;
  for (const char* const* item = begin; item != end; ++item) {
    if (!out.empty()) out += ' ';
    out += *item;
  }
  return out;
}

std::string last_component(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<std::string> describe_view(const LaunchSpec& spec) {
  std::vector<std::string> lines;
  if (!spec.sandboxed) {
    lines.push_back(spec.new_mount_namespace ? "/         the host's (a mount namespace only)"
                                             : "/         the host's (confinement off)");
    return lines;
  }
  const Sandbox& sandbox = spec.sandbox;
  if (!sandbox.readonly_mounts.empty()) {
    std::string line = "/         the host's, read-only (uid 0)";
    if (!sandbox.writable_paths.empty())
      line += cat("; writable: ", join(sandbox.writable_paths, " "));
    lines.push_back(std::move(line));
  } else {
    lines.push_back(
        cat("/         the host's, as uid ", spec.identity.uid, " (its file permissions apply)"));
  }
  lines.push_back(cat("/proc     its own pid namespace's; read-only: ",
                      joined(std::begin(kReadonlyPaths), std::end(kReadonlyPaths))));
  lines.push_back(cat("masked    ", joined(std::begin(kMaskedPaths), std::end(kMaskedPaths)),
                      sandbox.new_ipc_namespace ? "; SysV IPC of its own" : ""));
  std::vector<std::string> nodes;
  for (const auto& node : sandbox.device_nodes) nodes.push_back(last_component(node.source));
  lines.push_back(cat("/dev      its own, read-only: ", join(nodes, " "), " pts"));
  // SPEC §4a.
  for (const auto& device : sandbox.devices) {
    lines.push_back(cat("device    ", device.path, device.read && device.write ? " read-write"
                                                  : device.read                ? " read-only"
                                                                               : " write-only",
                        ", group ", device.gid, device.path.find('*') != std::string::npos
                                                     ? " (matched at each start)"
                                                     : ""));
  }
  if (!sandbox.state_directory.empty()) {
    lines.push_back(cat("state     ", sandbox.state_directory, " read-write, kept across runs"));
  }
  if (!sandbox.passwd.empty()) {
    lines.push_back("/etc      passwd and group generated, read-only: its user and groups");
  }
  if (spec.last_capability >= 0) {
    std::vector<std::string> kept;
    for (int number = 0; number < 64; ++number) {
      if ((spec.ambient_capabilities & (1ULL << number)) == 0) continue;
      std::string name = std::to_string(number);
      for (const auto& info : config::capability_table()) {
        if (info.number == number) name = std::string(info.name);
      }
      kept.push_back(std::move(name));
    }
    lines.push_back(kept.empty() ? std::string("caps      none")
                                 : cat("caps      ambient: ", join(kept, " ")));
  }
  std::string shm = cat("/dev/shm  its own tmpfs (", size_of(sandbox.shm_options), ")");
  std::vector<std::string> objects;
  for (const auto& mount : spec.shm_mounts) {
    objects.push_back(
        cat(last_component(mount.target), mount.read_only ? " read-only" : " read-write"));
  }
  if (!objects.empty()) shm += cat(": ", join(objects, ", "));
  lines.push_back(std::move(shm));
  lines.push_back(cat(joined(std::begin(kPrivateTmpPaths), std::end(kPrivateTmpPaths)),
                      " its own tmpfs (", size_of(sandbox.tmp_options), ")"));
  if (!spec.hidden_mounts.empty()) {
    lines.push_back(cat("hidden    ", join(spec.hidden_mounts, " "),
                        " (the mqueue filesystem: queues only through mq_open)"));
  }
  return lines;
}

}  // namespace ipcrt::runtime
