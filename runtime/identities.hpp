// Who every service runs as, and which group owns every slot's queues and objects (SPEC §4.3).
//
// A service without `user` is a dynamic user: a uid of its own from systemd's DynamicUser
// range, its gid the same number, kept in the id registry for the pair manifest + service. Each
// slot has a dynamic gid of its own (manifest + service + slot): its queues and objects belong
// to the slot's service and that group. A service's supplementary groups are the gids of its
// own slots and of the slots its plugs are connected to, so a consumer reaches what it was
// granted through the slot's group and nothing of the provider's own.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/connections.hpp"
#include "config/manifest.hpp"
#include "platform/id_registry.hpp"
#include "platform/users.hpp"

namespace ipcrt::runtime {

// One service's user, and what its environment says about it.
struct Account {
  platform::Identity identity;  // uid, primary gid, supplementary groups (the primary first)
  bool dynamic = false;         // no `user` in the manifest
  std::string user_name;        // USER, LOGNAME: "ipcrt-<service>", the passwd name, or the uid
  std::string home;             // HOME: the passwd home, else the service's state directory
  std::string shell;            // SHELL: the passwd shell, else /bin/sh
  // SPEC §4a: a dynamic gid of its own per `devices` entry (in that order), the group of the
  // nodes bound into its /dev; also among identity.groups.
  std::vector<gid_t> device_groups{};
};

class Identities {
 public:
  [[nodiscard]] const Account* find_account(const std::string& service) const;
  // Every service of the manifest they were resolved for has one; throws std::out_of_range
  // for any other name.
  [[nodiscard]] const Account& account(const std::string& service) const;
  // The group of a slot ("service:slot"): of its queues and objects.
  [[nodiscard]] std::optional<gid_t> slot_group(const std::string& slot) const;
  [[nodiscard]] bool empty() const { return accounts_.empty(); }
  // The name of a group a service has, as its generated /etc/group says (SPEC §4a):
  // "ipcrt-<service>" for a dynamic user's own, "ipcrt-<service>-<slot>" for a slot's,
  // "ipcrt-<service>-<device>" for a device's, the host's name for a host group; nullptr if
  // none is known.
  [[nodiscard]] const std::string* group_name(gid_t gid) const;

  void set_account(const std::string& service, Account account);
  void set_slot_group(const std::string& slot, gid_t gid);
  void set_group_name(gid_t gid, std::string name);

 private:
  std::map<std::string, Account> accounts_;
  std::map<std::string, gid_t> slot_groups_;
  std::map<gid_t, std::string> group_names_;
};

// Where resolution looks. Tests point it at fixtures and temporary directories.
struct AccountSources {
  // passwd and group files, merged in this order; a missing file is empty.
  std::vector<std::string> account_dirs{"/etc", "/var/lib/extrausers"};
  std::string state_dir = state_directory();  // the id registry is state_dir + "/ids"
  platform::IdRange range = platform::kDynamicIdRange;

  // $IPCRT_STATE_DIR when set (tests keep the host's registry clean), else /var/lib/ipcrt.
  [[nodiscard]] static std::string state_directory();
};

// A service's state directory (SPEC §4a): STATE_DIR/<manifest>/<service>.
[[nodiscard]] std::string service_state_directory(const std::string& state_dir,
                                                  const std::string& manifest,
                                                  const std::string& service);

// The manifest's identities against `accounts`, allocating missing dynamic ids in `registry`
// (in memory: saving is the caller's). Errors name the manifest's JSON pointer.
[[nodiscard]] Result<Identities> resolve_identities(
    const config::Manifest& manifest, const std::vector<config::Connection>& connections,
    const platform::UserDatabase& accounts, platform::IdRegistry& registry,
    const AccountSources& sources);

// For `plan`: the identities `run` would use now. Reads the registry; writes and locks nothing.
[[nodiscard]] Result<Identities> preview_identities(
    const config::Manifest& manifest, const std::vector<config::Connection>& connections,
    const AccountSources& sources = {});

// For `run`: identities with new ids allocated in `registry`, which stays locked (no other
// runtime allocates meanwhile) until it is saved, once nothing can fail before the boot
// changes the system, or dropped.
struct AllocatedIdentities {
  Identities identities;
  platform::IdRegistry registry;
};
// Needs root: dynamic users, the owners of queues and objects and the switch of uid do.
[[nodiscard]] Result<AllocatedIdentities> allocate_identities(
    const config::Manifest& manifest, const std::vector<config::Connection>& connections,
    const AccountSources& sources = {});

}  // namespace ipcrt::runtime
