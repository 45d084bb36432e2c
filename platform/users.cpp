// Parsing of passwd(5) and group(5) lines and resolution of a service's identity.
#include "platform/users.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

std::vector<std::string_view> split(std::string_view line, char separator) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t end = line.find(separator, start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

template <class Callback>
void for_each_line(std::string_view text, Callback&& callback) {
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') continue;
    callback(line);
  }
}

}  // namespace

std::optional<unsigned> parse_id(std::string_view text) {
  unsigned value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value == static_cast<unsigned>(-1)) return std::nullopt;  // (uid_t)-1 means "unchanged"
  return value;
}

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> entries;
  for_each_line(text, [&](std::string_view line) {
    auto fields = split(line, ':');
    if (fields.size() < 4 || fields[0].empty()) return;
    auto uid = parse_id(fields[2]);
    auto gid = parse_id(fields[3]);
    if (!uid || !gid) return;
    PasswdEntry entry{std::string(fields[0]), *uid, *gid, {}, {}};
    if (fields.size() > 5) entry.home = fields[5];
    if (fields.size() > 6) entry.shell = fields[6];
    entries.push_back(std::move(entry));
  });
  return entries;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> entries;
  for_each_line(text, [&](std::string_view line) {
    auto fields = split(line, ':');
    if (fields.size() < 3 || fields[0].empty()) return;
    auto gid = parse_id(fields[2]);
    if (!gid) return;
    GroupEntry entry{std::string(fields[0]), *gid, {}};
    if (fields.size() >= 4 && !fields[3].empty()) {
      for (std::string_view member : split(fields[3], ',')) {
        if (!member.empty()) entry.members.emplace_back(member);
      }
    }
    entries.push_back(std::move(entry));
  });
  return entries;
}

namespace {

Result<std::string> read_if_present(const std::string& path) {
  auto text = read_text_file(path);
  if (!text && text.error().errnum == ENOENT) return std::string();
  return text;
}

}  // namespace

Result<UserDatabase> UserDatabase::load(const std::vector<std::string>& dirs) {
  std::vector<PasswdEntry> users;
  std::vector<GroupEntry> groups;
  for (const auto& dir : dirs) {
    auto passwd = read_if_present(dir + "/passwd");
    if (!passwd) return std::unexpected(passwd.error());
    auto group = read_if_present(dir + "/group");
    if (!group) return std::unexpected(group.error());
    for (auto& entry : parse_passwd(*passwd)) users.push_back(std::move(entry));
    for (auto& entry : parse_group(*group)) groups.push_back(std::move(entry));
  }
  return UserDatabase(std::move(users), std::move(groups));
}

std::set<unsigned> UserDatabase::used_ids() const {
  std::set<unsigned> ids;
  for (const auto& user : users_) {
    ids.insert(user.uid);
    ids.insert(user.gid);
  }
  for (const auto& group : groups_) ids.insert(group.gid);
  return ids;
}

const PasswdEntry* UserDatabase::find_user(std::string_view name_or_number) const {
  auto number = parse_id(name_or_number);
  for (const auto& user : users_) {
    if (number ? user.uid == *number : user.name == name_or_number) return &user;
  }
  return nullptr;
}

const GroupEntry* UserDatabase::find_group(std::string_view name_or_number) const {
  auto number = parse_id(name_or_number);
  for (const auto& group : groups_) {
    if (number ? group.gid == *number : group.name == name_or_number) return &group;
  }
  return nullptr;
}

Result<Identity> UserDatabase::resolve(const std::optional<std::string>& user,
                                       const std::optional<std::string>& group) const {
  Identity identity{::getuid(), ::getgid(), {}};
  std::string user_name;
  if (user) {
    const PasswdEntry* entry = find_user(*user);
    auto number = parse_id(*user);
    if (entry != nullptr) {
      identity.uid = entry->uid;
      identity.gid = entry->gid;
      user_name = entry->name;
    } else if (number) {
      identity.uid = *number;
      identity.gid = *number;
    } else {
      return fail(cat("unknown user \"", *user, "\""),
                  "add it to /etc/passwd or use a numeric uid");
    }
  }
  if (group) {
    const GroupEntry* entry = find_group(*group);
    auto number = parse_id(*group);
    if (entry != nullptr) {
      identity.gid = entry->gid;
    } else if (number) {
      identity.gid = *number;
    } else {
      return fail(cat("unknown group \"", *group, "\""),
                  "add it to /etc/group or use a numeric gid");
    }
  }
  identity.groups.push_back(identity.gid);
  if (!user_name.empty()) {
    for (const auto& entry : groups_) {
      for (const auto& member : entry.members) {
        if (member == user_name && entry.gid != identity.gid) identity.groups.push_back(entry.gid);
      }
    }
  }
  return identity;
}

}  // namespace ipcrt::platform
