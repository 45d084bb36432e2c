// Naming rules of the manifest: queue paths follow mq_overview(7) and snapd's posix-mq checks,
// shared-memory names follow snapd's shared-memory interface.
#include "config/names.hpp"

#include <algorithm>
#include <utility>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string hex(unsigned value, int digits) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) text += kHex[(value >> shift) & 0xfU];
  return text;
}

// Shows a rejected character in a message; NUL and control characters are invisible otherwise.
std::string show_char(char c) {
  if (c == '\0') return "NUL";
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    return cat("control character 0x", hex(static_cast<unsigned char>(c), 2));
  }
  return cat('\'', c, '\'');
}

// One UTF-8 code point of a name. nlohmann refuses invalid UTF-8, so names are well formed.
struct CodePoint {
  char32_t value = 0;
  std::size_t bytes = 0;
};

CodePoint decode_at(std::string_view text, std::size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  const std::size_t bytes = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  if (at + bytes > text.size()) return {lead, 1};
  char32_t value = bytes == 1 ? lead : lead & (0x7fU >> bytes);
  for (std::size_t i = 1; i < bytes; ++i) {
    value = (value << 6U) | (static_cast<unsigned char>(text[at + i]) & 0x3fU);
  }
  return {value, bytes};
}

CodePoint last_code_point(std::string_view text) {
  std::size_t at = text.size() - 1;
  while (at > 0 && text.size() - at < 4 && (static_cast<unsigned char>(text[at]) & 0xc0U) == 0x80) {
    --at;
  }
  return decode_at(text, at);
}

// Unicode White_Space, as Go's unicode.IsSpace (behind snapd's strings.TrimSpace) sees it.
bool is_unicode_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

std::string describe_space(char32_t c) {
  switch (c) {
    case 0x09:
      return "a tab";
    case 0x0a:
      return "a newline";
    case 0x0d:
      return "a carriage return";
    case 0x20:
      return "a space";
    case 0xa0:
      return "a no-break space (U+00A0)";
    default:
      return cat("whitespace U+", hex(static_cast<unsigned>(c), 4));
  }
}

// Control characters (C0, DEL, and C1 as UTF-8) in `name`: the first one shown, or "".
std::string first_control_character(std::string_view name) {
  for (std::size_t at = 0; at < name.size();) {
    const CodePoint point = decode_at(name, at);
    if (point.value < 0x20 || point.value == 0x7f) return show_char(name[at]);
    if (point.value >= 0x80 && point.value <= 0x9f) {
      return cat("control character U+", hex(static_cast<unsigned>(point.value), 4));
    }
    at += point.bytes;
  }
  return {};
}

// Why ':' may not appear in a queue or object name.
constexpr std::string_view kColonReason =
    "':' separates the names in IPCRT_<NAME>_PATHS and LISTEN_FDNAMES, so a name with ':' would "
    "reach a service as two";

}  // namespace

std::string check_name(std::string_view name, std::string_view what) {
  const std::string hint =
      "use lower-case letters, digits and '-', starting with a letter or digit";
  if (name.empty()) return cat(what, " is empty: ", hint);
  if (name.size() > kMaxNameLength) {
    return cat(what, " is ", name.size(), " bytes long: use at most ", kMaxNameLength);
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
    result.error = cat("queue name is ", name.size(), " bytes long: use at most ",
                       kMaxObjectNameLength, " bytes after the leading '/' (mq_overview(7))");
  } else if (name.find('/') != std::string_view::npos) {
    result.error =
        "queue path has a '/' after the leading one: queue names are flat "
        "(mq_overview(7)); use '-' or '.' instead";
  } else if (name == "." || name == "..") {
    result.error = cat("queue path \"", result.path, "\" is not clean: choose a real name");
  }
  if (!result.error.empty()) return result;
  if (auto control = first_control_character(name); !control.empty()) {
    result.error = cat("queue path contains ", control,
                       ": control characters are invisible in listings and logs; remove it");
    return result;
  }
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
    } else if (c == ':') {
      result.error = cat("queue path contains ':': ", kColonReason);
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
    return cat("shared-memory object name is ", name.size(), " bytes long: use at most ",
               kMaxObjectNameLength, " bytes (NAME_MAX)");
  }
  // Whitespace at either end is invisible in a listing: "frames" and "frames\u00a0" would look
  // like one object. snapd trims and compares the same way.
  for (const auto& [point, end] :
       {std::pair{decode_at(name, 0), "starts"}, std::pair{last_code_point(name), "ends"}}) {
    if (is_unicode_space(point.value)) {
      return cat("shared-memory object name ", end, " with ", describe_space(point.value),
                 ": names with leading or trailing whitespace look like other names; remove it");
    }
  }
  if (name == ".") {
    return "\".\" is not a shared-memory object name: it would be /dev/shm itself";
  }
  if (name == "..") {
    return "\"..\" is not a shared-memory object name: it would be the directory above /dev/shm";
  }
  if (name.find('/') != std::string_view::npos) {
    return "shared-memory object name contains '/': write the name only, without the implicit "
           "/dev/shm/ prefix";
  }
  if (name.find('*') != std::string_view::npos) {
    return "shared-memory globs ('*') are not supported: ipcrt pre-creates and bind-mounts each "
           "object, so list every object name";
  }
  if (auto control = first_control_character(name); !control.empty()) {
    return cat("shared-memory object name contains ", control,
               ": control characters are invisible in listings and logs; remove it");
  }
  for (char c : name) {
    if (std::string_view("?[]{}^\"`").find(c) != std::string_view::npos) {
      return cat("shared-memory object name contains ", show_char(c),
                 ": none of ?*[]{}^\"` may appear (pattern and quoting characters, refused "
                 "as snapd does)");
    }
    if (c == ':') return cat("shared-memory object name contains ':': ", kColonReason);
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
  if (value.size() > 32) return cat(what, " name is ", value.size(), " bytes long: use at most 32");
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
