// SPEC §4a, what a gateway daemon needs inside its sandbox beyond §4.3: its state directory,
// generated /etc/passwd and /etc/group naming its user and groups, the device nodes it is
// granted, and the capabilities it keeps. Planned here into the LaunchSpec (add_gateway_sandbox),
// laid out before fork (prepare_gateway_launch), then built by the child in launch.cpp.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "runtime/identities.hpp"
#include "runtime/launch.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// Adds §4a to a confined service's LaunchSpec from prepare_launch(): its state directory
// (writable even when its host is read-only), the passwd and group files of its view, its
// devices with their groups, its ambient capabilities. Nothing for `confinement: off`, which
// keeps the host's /etc and /dev, and the runtime's capabilities.
void add_gateway_sandbox(LaunchSpec& spec, const config::Service& service,
                         const PlannedService& planned, const Account& account,
                         const Identities& identities);

// The generated /etc/passwd and /etc/group of a service's view: root, the service's user,
// nobody; root, its groups with the names `identities` knows (the user a member of each
// supplementary one), nogroup.
[[nodiscard]] std::string passwd_text(const Account& account, const std::string& service);
[[nodiscard]] std::string group_text(const Account& account, const Identities& identities);

// A device node as the child makes it in the service's /dev: mknod of the host node's type and
// number at `target` (under the staging directory), root-owned, of the device's group, with
// the manifest's access as owner and group bits.
struct DeviceNode {
  std::string host;    // "/dev/ttyUSB0": what it was resolved from
  std::string target;  // staging + "/ttyUSB0"
  mode_t mode = 0;     // S_IFCHR or S_IFBLK | 0660, 0440 or 0220
  dev_t rdev = 0;
  gid_t gid = 0;
};

// What the child needs of §4a, laid out in the parent just before fork.
struct GatewayLaunch {
  std::vector<std::string> device_dirs;  // under staging, parents first ("staging/net")
  std::vector<DeviceNode> devices;
};

// Resolves the device paths and patterns against the host's /dev now (a node plugged in since
// the last start is found, one gone is left out) and writes the passwd and group files into
// the staging directory. Allocates and may fail: call it before fork. The error's errno and
// path are those of the file that could not be written.
[[nodiscard]] Result<GatewayLaunch> prepare_gateway_launch(const Sandbox& sandbox);

// SPEC §4a: the service's state directory exists, is a real directory of `uid`:`gid`, mode
// 0700, with its parents (root-owned, 0755) made where missing. A directory of another owner
// (the service's uid changed) is re-owned with everything in it that the old owner owned, so
// a link to a file of someone else's that the service left there is not handed over.
[[nodiscard]] Status ensure_state_directory(const std::string& path, uid_t uid, gid_t gid);

}  // namespace ipcrt::runtime
