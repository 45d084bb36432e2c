// The names of the variables the runtime puts in every service's environment (SPEC §4.3), for
// the planner that sets them and the services that read them. Header-only and free of ipcrt's
// libraries, so a service such as examples/ includes it without linking the runtime.
#pragma once

#include <string>
#include <string_view>

namespace ipcrt {

// The service's own name from the manifest.
inline constexpr char kServiceNameVariable[] = "IPCRT_SERVICE";

// sd_listen_fds(3)'s variables, set for a `pass-queues` service (SPEC §11): how many queues
// are passed from fd 3, the pid they are meant for (the one the service sees), and their
// names (queue paths without the leading '/', separated by ':').
inline constexpr char kListenFdsVariable[] = "LISTEN_FDS";
inline constexpr char kListenPidVariable[] = "LISTEN_PID";
inline constexpr char kListenFdNamesVariable[] = "LISTEN_FDNAMES";

// Between the paths of one IPCRT_<NAME>_PATHS value; the manifest forbids it in paths and shm
// names for that reason (SPEC §2.1, §2.3).
inline constexpr std::string_view kPathListSeparator = ":";

// The variable holding the queue paths or shm names of plug or slot `name`:
// "sensor-data" -> "IPCRT_SENSOR_DATA_PATHS". Names are [a-z0-9-] (SPEC §2), so the ASCII
// upper case is the whole rule, without the locale std::toupper would consult.
[[nodiscard]] inline std::string paths_variable(std::string_view name) {
  std::string variable = "IPCRT_";
  for (char c : name) {
    if (c == '-') {
      variable += '_';
    } else if (c >= 'a' && c <= 'z') {
      variable += static_cast<char>(c - 'a' + 'A');
    } else {
      variable += c;
    }
  }
  variable += "_PATHS";
  return variable;
}

}  // namespace ipcrt
