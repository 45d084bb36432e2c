// Users and groups from /etc/passwd and /etc/group, parsed directly: the binary is static, so
// glibc's NSS (getpwnam & co) is not available at run time.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace ipcrt::platform {

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;      // primary group
  std::string home;   // may be empty
  std::string shell;  // may be empty
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

// Lines that do not parse (comments, NIS "+" lines, short lines) are skipped.
[[nodiscard]] std::vector<PasswdEntry> parse_passwd(std::string_view text);
[[nodiscard]] std::vector<GroupEntry> parse_group(std::string_view text);

// What a service runs as: uid, gid and the supplementary groups to set.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// The user and group databases of the host: /etc and, where it exists, /var/lib/extrausers
// (where Ubuntu Core keeps the users it adds).
class UserDatabase {
 public:
  // The passwd and group files of each directory, merged in order (the first entry of a name
  // wins a lookup). A missing file counts as empty: an initramfs may have no /etc/passwd.
  [[nodiscard]] static Result<UserDatabase> load(const std::vector<std::string>& dirs);
  UserDatabase(std::vector<PasswdEntry> users, std::vector<GroupEntry> groups)
      : users_(std::move(users)), groups_(std::move(groups)) {}

  // `user` and `group` are names or decimal numbers. A user's default group is its primary
  // group; a number absent from /etc/passwd has no primary group, so its gid defaults to the
  // same number. Supplementary groups: the primary gid plus every group listing the user.
  // Neither given: the calling process's own identity.
  [[nodiscard]] Result<Identity> resolve(const std::optional<std::string>& user,
                                         const std::optional<std::string>& group) const;

  [[nodiscard]] const PasswdEntry* find_user(std::string_view name_or_number) const;
  [[nodiscard]] const GroupEntry* find_group(std::string_view name_or_number) const;

  // Every id an account uses (passwd uids and primary gids, group gids): none of them may ever
  // become a dynamic id, or a service would share files with a host account.
  [[nodiscard]] std::set<unsigned> used_ids() const;

 private:
  std::vector<PasswdEntry> users_;
  std::vector<GroupEntry> groups_;
};

// A decimal id ("1000"), or nullopt when `text` is not one.
[[nodiscard]] std::optional<unsigned> parse_id(std::string_view text);

}  // namespace ipcrt::platform
