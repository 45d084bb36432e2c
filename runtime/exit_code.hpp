// The exit statuses of SPEC §7, shared by the CLI and the runtime library that decides them.
#pragma once

namespace ipcrt::runtime {

enum ExitCode : int {
  kExitOk = 0,
  kExitInvalidManifest = 1,
  kExitUsage = 2,
  kExitBootFailed = 3,  // also a refused operation (resources, limits, permissions)
  kExitServiceFailed = 4,
  kExitUnreachable = 5,  // no runtime reachable for that manifest, or the caller may not do that
};

}  // namespace ipcrt::runtime
