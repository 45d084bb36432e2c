// Resolution of every service's account and every slot's group.
#include "runtime/identities.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "common/text.hpp"
#include "config/paths.hpp"

namespace ipcrt::runtime {
namespace {

constexpr const char* kDefaultShell = "/bin/sh";

// Registry keys. Names never hold '/' or ':' (SPEC §2), so no two keys can be confused.
std::string user_key(const config::Manifest& manifest, const config::Service& service) {
  return cat(manifest.name, '/', service.name);
}
std::string slot_key(const config::Manifest& manifest, const config::Service& service,
                     const config::Slot& slot) {
  return cat(manifest.name, '/', service.name, ':', slot.name);
}

// Names never hold '@' either: a device's key cannot be a slot's or a user's.
std::string device_key(const config::Manifest& manifest, const config::Service& service,
                       const config::Device& device) {
  return cat(manifest.name, '/', service.name, '@', device.path);
}

// "/dev/ttyUSB0" -> "ttyUSB0", "/dev/serial/by-id/x" -> "serial-by-id-x", "/dev/ttyACM*" ->
// "ttyACM": the device's group name in the service's /etc/group, whose lines ':', ',' and a
// newline would break.
std::string device_group_suffix(const std::string& path) {
  std::string out;
  for (char c : std::string_view(path).substr(5)) {
    if (c == '/') {
      out += '-';
    } else if (c != '*' && c != ':' && c != '\n' && c != ',') {
      out += c;
    }
  }
  return out;
}

std::unexpected<Error> failed_at(const config::Manifest& manifest, const std::string& pointer,
                                 Error error) {
  error.message = cat(manifest.file, ": ", pointer, ": ", error.message);
  return std::unexpected(std::move(error));
}

void add_group(std::vector<gid_t>& groups, gid_t gid) {
  if (std::ranges::find(groups, gid) == groups.end()) groups.push_back(gid);
}

class Resolver {
 public:
  Resolver(const config::Manifest& manifest, const std::vector<config::Connection>& connections,
           const platform::UserDatabase& accounts, platform::IdRegistry& registry,
           const AccountSources& sources)
      : manifest_(manifest),
        connections_(connections),
        accounts_(accounts),
        registry_(registry),
        sources_(sources),
        host_ids_(accounts.used_ids()),
        taken_(host_ids_) {
    // Numbers the manifest names need no passwd entry, and must not become dynamic ids either
    // (one the registry gave out already is clash_with_dynamic_ids()'s to report).
    for (const auto& service : manifest.services) {
      for (const auto& name : {service.user, service.group}) {
        if (!name) continue;
        if (auto number = platform::parse_id(*name)) taken_.insert(*number);
      }
    }
  }

  Result<Identities> resolve() {
    std::map<std::string, Account> accounts;
    for (const auto& service : manifest_.services) {
      auto account = service.user ? explicit_account(service) : dynamic_account(service);
      if (!account) return std::unexpected(account.error());
      accounts.emplace(service.name, std::move(*account));
    }
    for (const auto& service : manifest_.services) {
      for (const auto& slot : service.slots) {
        auto gid = dynamic_id(slot_key(manifest_, service, slot), slot.pointer, "gid");
        if (!gid) return std::unexpected(gid.error());
        identities_.set_slot_group(cat(service.name, ':', slot.name), *gid);
        identities_.set_group_name(*gid, cat("ipcrt-", service.name, '-', slot.name));
      }
    }
    for (const auto& service : manifest_.services) {
      Account& account = accounts.at(service.name);
      for (const auto& device : service.devices) {
        auto gid = dynamic_id(device_key(manifest_, service, device), device.pointer, "gid");
        if (!gid) return std::unexpected(gid.error());
        account.device_groups.push_back(*gid);
        identities_.set_group_name(
            *gid, cat("ipcrt-", service.name, '-', device_group_suffix(device.path)));
      }
    }
    for (const auto& service : manifest_.services) {
      Account& account = accounts.at(service.name);
      if (auto clash = clash_with_dynamic_ids(service, account.identity)) return *clash;
      add_slot_groups(service, account.identity.groups);
      for (gid_t gid : account.device_groups) add_group(account.identity.groups, gid);
      for (gid_t gid : account.identity.groups) {
        if (identities_.group_name(gid) != nullptr) continue;
        if (const auto* group = accounts_.find_group(std::to_string(gid))) {
          identities_.set_group_name(gid, group->name);
        }
      }
      identities_.set_account(service.name, std::move(account));
    }
    return std::move(identities_);
  }

 private:
  Result<Account> explicit_account(const config::Service& service) {
    auto identity = accounts_.resolve(service.user, service.group);
    if (!identity) return failed_at(manifest_, service.pointer + "/user", identity.error());
    Account account;
    account.identity = std::move(*identity);
    const platform::PasswdEntry* entry = accounts_.find_user(*service.user);
    account.user_name = entry != nullptr ? entry->name : *service.user;
    account.home = entry != nullptr && !entry->home.empty() ? entry->home : state_dir(service);
    account.shell = entry != nullptr && !entry->shell.empty() ? entry->shell : kDefaultShell;
    return account;
  }

  Result<Account> dynamic_account(const config::Service& service) {
    auto id = dynamic_id(user_key(manifest_, service), service.pointer, "uid");
    if (!id) return std::unexpected(id.error());
    Account account;
    account.dynamic = true;
    account.identity = {*id, *id, {}};
    if (service.group) {
      // A host group for a user of its own: the group's files (a device's, say) are reachable,
      // nothing of any host user is.
      auto group = accounts_.resolve(std::nullopt, service.group);
      if (!group) return failed_at(manifest_, service.pointer + "/group", group.error());
      account.identity.gid = group->gid;
    }
    account.identity.groups = {account.identity.gid};
    account.user_name = "ipcrt-" + service.name;
    if (!service.group) identities_.set_group_name(account.identity.gid, account.user_name);
    account.home = state_dir(service);
    account.shell = kDefaultShell;
    return account;
  }

  Result<unsigned> dynamic_id(const std::string& key, const std::string& pointer,
                              const char* kind) {
    auto id = registry_.allocate(key, sources_.range, taken_);
    if (!id) return failed_at(manifest_, pointer, id.error());
    // New ids avoid host accounts; one registered earlier may have been given to an account
    // added to the host since.
    if (host_ids_.contains(*id)) {
      return failed_at(manifest_, pointer,
                       Error{cat("dynamic ", kind, ' ', *id, " of ", key, " (", registry_.path(),
                                 ") is now also used by a host account: they would share files"),
                             0,
                             cat("give that account another id; or, once nothing owned by ", *id,
                                 " is left, delete the line \"", *id, ' ', key, "\" from ",
                                 registry_.path(), " and ipcrt allocates another")});
    }
    return id;
  }

  // An id written into the manifest that the registry gave to another key would let this
  // service into what that key owns (its own former dynamic uid is fine: it keeps its files).
  std::optional<std::unexpected<Error>> clash_with_dynamic_ids(const config::Service& service,
                                                               const platform::Identity& identity) {
    auto clash = [&](unsigned id, const char* key) -> std::optional<std::unexpected<Error>> {
      const std::string* owner = registry_.key_of(id);
      if (owner == nullptr || *owner == user_key(manifest_, service)) return std::nullopt;
      return failed_at(manifest_, service.pointer + key,
                       Error{cat("id ", id, " is the dynamic id of ", *owner, " (",
                                 registry_.path(), "): this service would reach what it owns"),
                             0,
                             cat("choose a user and group outside ", sources_.range.first, "-",
                                 sources_.range.last, ", which ipcrt gives to dynamic users")});
    };
    if (service.user) {
      if (auto found = clash(identity.uid, "/user")) return found;
    }
    if (service.group || service.user) {
      return clash(identity.gid, service.group ? "/group" : "/user");
    }
    return std::nullopt;
  }

  // Its own slots' groups and those of the slots its plugs reach: nothing else of another
  // service's travels with a connection.
  void add_slot_groups(const config::Service& service, std::vector<gid_t>& groups) const {
    for (const auto& slot : service.slots) {
      if (auto gid = identities_.slot_group(cat(service.name, ':', slot.name))) {
        add_group(groups, *gid);
      }
    }
    for (const auto& connection : connections_) {
      if (connection.plug_service != service.name || connection.slot_service.empty()) continue;
      if (auto gid = identities_.slot_group(connection.slot_ref())) add_group(groups, *gid);
    }
  }

  std::string state_dir(const config::Service& service) const {
    return service_state_directory(sources_.state_dir, manifest_.name, service.name);
  }

  const config::Manifest& manifest_;
  const std::vector<config::Connection>& connections_;
  const platform::UserDatabase& accounts_;
  platform::IdRegistry& registry_;
  const AccountSources& sources_;
  const std::set<unsigned> host_ids_;  // ids of host accounts: never a dynamic id
  std::set<unsigned> taken_;           // never a new dynamic id: host ids and manifest numbers
  Identities identities_;
};

}  // namespace

const Account* Identities::find_account(const std::string& service) const {
  auto it = accounts_.find(service);
  return it == accounts_.end() ? nullptr : &it->second;
}

const Account& Identities::account(const std::string& service) const {
  const Account* found = find_account(service);
  if (found == nullptr) throw std::out_of_range("no account resolved for service " + service);
  return *found;
}

std::optional<gid_t> Identities::slot_group(const std::string& slot) const {
  auto it = slot_groups_.find(slot);
  if (it == slot_groups_.end()) return std::nullopt;
  return it->second;
}

void Identities::set_account(const std::string& service, Account account) {
  accounts_.insert_or_assign(service, std::move(account));
}

void Identities::set_slot_group(const std::string& slot, gid_t gid) {
  slot_groups_.insert_or_assign(slot, gid);
}

const std::string* Identities::group_name(gid_t gid) const {
  auto it = group_names_.find(gid);
  return it == group_names_.end() ? nullptr : &it->second;
}

void Identities::set_group_name(gid_t gid, std::string name) {
  group_names_.insert_or_assign(gid, std::move(name));
}

std::string AccountSources::state_directory() {
  const char* configured = std::getenv("IPCRT_STATE_DIR");
  return configured != nullptr && *configured != '\0' ? configured
                                                      : std::string(config::kStateRoot);
}

std::string service_state_directory(const std::string& state_dir, const std::string& manifest,
                                    const std::string& service) {
  return config::state_directory_path(state_dir, manifest, service);
}

Result<Identities> resolve_identities(const config::Manifest& manifest,
                                      const std::vector<config::Connection>& connections,
                                      const platform::UserDatabase& accounts,
                                      platform::IdRegistry& registry,
                                      const AccountSources& sources) {
  return Resolver(manifest, connections, accounts, registry, sources).resolve();
}

Result<Identities> preview_identities(const config::Manifest& manifest,
                                      const std::vector<config::Connection>& connections,
                                      const AccountSources& sources) {
  auto accounts = platform::UserDatabase::load(sources.account_dirs);
  if (!accounts) return std::unexpected(accounts.error());
  auto registry = platform::IdRegistry::read_only(sources.state_dir);
  if (!registry) return std::unexpected(registry.error());
  return resolve_identities(manifest, connections, *accounts, *registry, sources);
}

Result<AllocatedIdentities> allocate_identities(const config::Manifest& manifest,
                                                const std::vector<config::Connection>& connections,
                                                const AccountSources& sources) {
  if (::geteuid() != 0) {
    return fail(cat(manifest.file,
                    ": services run as users of their own (a dynamic user "
                    "unless \"user\" is set), which only root can switch to"),
                "run ipcrt as root");
  }
  auto accounts = platform::UserDatabase::load(sources.account_dirs);
  if (!accounts) return std::unexpected(accounts.error());
  auto registry = platform::IdRegistry::open_for_update(sources.state_dir);
  if (!registry) return std::unexpected(registry.error());
  auto identities = resolve_identities(manifest, connections, *accounts, *registry, sources);
  if (!identities) return std::unexpected(identities.error());
  return AllocatedIdentities{std::move(*identities), std::move(*registry)};
}

}  // namespace ipcrt::runtime
