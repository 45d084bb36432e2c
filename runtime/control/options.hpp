// How the control server is set up (runtime/control/server.hpp); a header of its own so that
// the daemon's users need not see the server.
#pragma once

#include <chrono>
#include <string>

#include "runtime/control/admission.hpp"

namespace ipcrt::runtime::control {

struct ControlOptions {
  std::string socket_path;  // empty: control_socket_path(the manifest's name)
  // A client with no call in progress and nothing queued is closed after this long, and so is
  // one that reads none of its replies for this long.
  std::chrono::milliseconds idle_timeout{60000};
  // A start, stop or restart answers once the service has settled, or after this long.
  std::chrono::milliseconds operation_timeout{120000};
  AdmissionLimits limits;
};

}  // namespace ipcrt::runtime::control
