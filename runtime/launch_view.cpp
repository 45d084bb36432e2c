#include "runtime/launch_view.hpp"

#include "common/service_env.hpp"
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

// The value of `key` in the launch's environment, "" if unset.
std::string variable(const LaunchSpec& spec, std::string_view key) {
  const std::string prefix = cat(key, '=');
  for (const auto& entry : spec.environment) {
    if (entry.starts_with(prefix)) return entry.substr(prefix.size());
  }
  return {};
}

// pass-queues (SPEC §11): the descriptors it starts with beside stdio, as `plan` lists them
// under its grants, and the variables that describe them, from the launch's own environment
// (LISTEN_PID is written by the child: the pid the service sees).
std::string passed_fds(const LaunchSpec& spec) {
  std::vector<std::string> fds;
  for (const auto& queue : spec.passed_queues) {
    fds.push_back(cat(queue.fd, ' ', queue.path, ' ', access_mode_name(queue.access)));
  }
  return cat("fds       ", join(fds, ", "), " (", kListenFdsVariable, '=',
             variable(spec, kListenFdsVariable), ' ', kListenFdNamesVariable, '=',
             variable(spec, kListenFdNamesVariable), ' ', kListenPidVariable, '=',
             spec.sandboxed ? "2" : "its own pid", ')');
}

}  // namespace

std::vector<std::string> describe_view(const LaunchSpec& spec) {
  std::vector<std::string> lines;
  if (!spec.sandboxed) {
    lines.push_back(spec.new_mount_namespace ? "/         the host's (a mount namespace only)"
                                             : "/         the host's (confinement off)");
    if (!spec.passed_queues.empty()) lines.push_back(passed_fds(spec));
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
                        spec.passed_queues.empty()
                            ? " (the mqueue filesystem: queues only through mq_open)"
                            : " (the mqueue filesystem: queues only as passed fds or through "
                              "mq_open)"));
  }
  if (!spec.passed_queues.empty()) lines.push_back(passed_fds(spec));
  return lines;
}

}  // namespace ipcrt::runtime
