// Naming rules of the manifest: queue paths follow mq_overview(7) and snapd's posix-mq checks,
// shared-memory names follow snapd's shared-memory interface.
#include "config/names.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Shows a rejected character in a message; NUL and control characters are invisible otherwise.
std::string show_char(char c) {
  if (c == '\0') return "NUL";
  if (static_cast<unsigned char>(c) < 0x20) {
    constexpr char kHex[] = "0123456789abcdef";
    return cat("byte 0x", kHex[(c >> 4) & 0xf], kHex[c & 0xf]);
  }
  return cat('\'', c, '\'');
}

}  // namespace

std::string check_name(std::string_view name, std::string_view what) {
  const std::string hint =
      "use lower-case letters, digits and '-', starting with a letter or digit";
  if (name.empty()) return cat(what, " is empty: ", hint);
  if (name.size() > kMaxNameLength) {
    return cat(what, " is ", name.size(), " characters long: use at most ", kMaxNameLength);
  }
  if (!is_lower_alnum(name.front())) {
    return cat(what, " starts with ", show_char(name.front()), ": ", hint);
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '-') {
      return cat(what, " contains ", show_char(c), ": ", hint);
    }
  }
  return {};
}

QueuePath normalise_queue_path(std::string_view raw, bool allow_patterns) {
  QueuePath result;
  if (raw.empty()) {
    result.error = "empty queue path: write a name such as \"/telemetry\"";
    return result;
  }
  if (raw.front() != '/') result.path = '/';
  result.path.append(raw);
  const std::string_view name = std::string_view(result.path).substr(1);
  if (name.empty()) {
    result.error = "queue path \"/\" has no name: write a name such as \"/telemetry\"";
  } else if (name.size() > kMaxObjectNameLength) {
    result.error = cat("queue name is ", name.size(), " characters long: use at most ",
                       kMaxObjectNameLength, " after the leading '/' (mq_overview(7))");
  } else if (name.find('/') != std::string_view::npos) {
    result.error =
        "queue path has a '/' after the leading one: queue names are flat "
        "(mq_overview(7)); use '-' or '.' instead";
  } else if (name == "." || name == "..") {
    result.error = cat("queue path \"", result.path, "\" is not clean: choose a real name");
  }
  if (!result.error.empty()) return result;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '*' && allow_patterns) {
      if (i + 1 != name.size()) {
        result.error = "a queue pattern may only have one '*', at the end (e.g. \"/camera-*\")";
      } else if (i == 0) {
        result.error =
            "queue pattern \"/*\" would match every queue: put a prefix before '*' "
            "(e.g. \"/camera-*\")";
      }
    } else if (c == '*') {
      result.error =
          "queue path patterns ('*') need name-level mediation (seccomp user "
          "notification, kernel >= 5.14), which is not enabled here: list each queue "
          "path instead";
    } else if (c == '\0' || std::string_view("?[]{}^\"").find(c) != std::string_view::npos) {
      result.error = cat("queue path contains ", show_char(c),
                         ": none of ?*[]{}^\" or NUL may appear in a queue name");
    }
    if (!result.error.empty()) return result;
  }
  return result;
}

bool queue_paths_overlap(std::string_view a, std::string_view b) {
  const bool a_pattern = is_queue_pattern(a);
  const bool b_pattern = is_queue_pattern(b);
  if (!a_pattern && !b_pattern) return a == b;
  if (a_pattern) a.remove_suffix(1);
  if (b_pattern) b.remove_suffix(1);
  // A pattern overlaps everything that starts with its prefix; two patterns overlap when one
  // prefix starts with the other.
  if (a_pattern && b_pattern) return a.starts_with(b) || b.starts_with(a);
  return a_pattern ? b.starts_with(a) : a.starts_with(b);
}

std::string check_shm_name(std::string_view name) {
  if (name.empty()) return "empty shared-memory object name: write a name such as \"frames\"";
  if (name.size() > kMaxObjectNameLength) {
    return cat("shared-memory object name is ", name.size(), " characters long: use at most ",
               kMaxObjectNameLength);
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return "shared-memory object name has a leading or trailing space: remove it";
  }
  if (name == "." || name == "..") return cat("\"", name, "\" is not a shared-memory object name");
  if (name.find('/') != std::string_view::npos) {
    return "shared-memory object name contains '/': write the name only, without the implicit "
           "/dev/shm/ prefix";
  }
  if (name.find('*') != std::string_view::npos) {
    return "shared-memory globs ('*') are not supported: ipcrt pre-creates and bind-mounts each "
           "object, so list every object name";
  }
  for (char c : name) {
    if (c == '\0' || std::string_view("?[]{}^\"`").find(c) != std::string_view::npos) {
      return cat("shared-memory object name contains ", show_char(c),
                 ": none of ?*[]{}^\"` or NUL may appear");
    }
  }
  if (name.starts_with("ipcrt.")) {
    return "shared-memory names starting with \"ipcrt.\" are reserved for the runtime's private "
           "/dev/shm directories: choose another name";
  }
  return {};
}

std::string check_account(std::string_view value, std::string_view what) {
  if (value.empty()) return cat(what, " is empty: write a name or a number");
  if (std::all_of(value.begin(), value.end(), is_digit)) {
    if (value.size() > 10 || std::stoull(std::string(value)) >= 4294967295ULL) {
      return cat(what, " id ", value, " is out of range: use 0 to 4294967294");
    }
    return {};
  }
  if (value.size() > 32) return cat(what, " name is longer than 32 characters");
  const char first = value.front();
  if (!((first >= 'a' && first <= 'z') || first == '_')) {
    return cat(what, " name must start with a lower-case letter or '_'");
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool last_dollar = c == '$' && i + 1 == value.size();
    if (!is_lower_alnum(c) && c != '_' && c != '-' && !last_dollar) {
      return cat(what, " name contains ", show_char(c),
                 ": use lower-case letters, digits, '_' and '-'");
    }
  }
  return {};
}

}  // namespace ipcrt::config
