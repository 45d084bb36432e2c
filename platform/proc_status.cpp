#include "platform/proc_status.hpp"

#include <charconv>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

std::string_view trim_blanks(std::string_view text) {
  constexpr std::string_view kBlanks = " \t";
  auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(kBlanks);
  return text.substr(first, last - first + 1);
}

}  // namespace

std::optional<std::string_view> proc_status_field(std::string_view status_text,
                                                  std::string_view name) {
  // Matching whole lines is enough: the kernel escapes a newline in the one value a process
  // chooses itself (Name, its comm), so no process can forge a line of its own status.
  std::string_view rest = status_text;
  while (!rest.empty()) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
      return trim_blanks(line.substr(name.size() + 1));
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> proc_status_number(std::string_view status_text,
                                                std::string_view name, int base) {
  auto value = proc_status_field(status_text, name);
  if (!value) return std::nullopt;
  std::uint64_t number = 0;
  auto parsed = std::from_chars(value->data(), value->data() + value->size(), number, base);
  if (parsed.ec != std::errc()) return std::nullopt;
  return number;
}

Result<std::string> read_proc_status(pid_t pid) {
  return read_text_file(cat("/proc/", pid, "/status"));
}

Result<std::string> read_own_proc_status() {
  return read_text_file("/proc/self/status");
}

}  // namespace ipcrt::platform
