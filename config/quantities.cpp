// Sizes, CPU bandwidth and stop signals as the manifest writes them. No <regex>: each syntax is
// small enough to read by hand, and the binary stays small.
#include "config/quantities.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <limits>
#include <optional>
#include <vector>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Leading decimal digits of `text` as a number; `digits` is how many there were. nullopt when
// the value does not fit in 64 bits.
std::optional<std::uint64_t> leading_number(std::string_view text, std::size_t& digits) {
  std::uint64_t value = 0;
  digits = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    const auto digit = static_cast<std::uint64_t>(text[digits] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++digits;
  }
  return value;
}

int suffix_shift(char c) {
  switch (c) {
    case 'K':
      return 10;
    case 'M':
      return 20;
    case 'G':
      return 30;
    case 'T':
      return 40;
    default:
      return -1;
  }
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text, bool allow_max) {
  if (allow_max && text == "max") return kNoLimit;
  auto not_a_size = [&](std::string hint) -> std::unexpected<Error> {
    return fail(
        cat('"', text, "\" is not a size: write ", kSizeForms, allow_max ? ", or \"max\"" : ""),
        std::move(hint));
  };
  std::size_t digits = 0;
  auto number = leading_number(text, digits);
  if (!number) return fail(cat('"', text, "\" is too large: at most ", kMaxBytes, " bytes"));
  if (digits == 0) return not_a_size({});
  const std::string_view rest = text.substr(digits);
  int shift = 0;
  if (rest.size() == 1) shift = suffix_shift(rest[0]);
  if (!rest.empty() && (rest.size() != 1 || shift < 0)) {
    const char first = rest[0];
    std::string hint;
    if (first == '.' || first == ',') {
      hint = "no fractions: use the next smaller unit, e.g. \"1536M\" for 1.5G";
    } else if (first == ' ') {
      hint = "no space between the number and the unit";
    } else if (suffix_shift(static_cast<char>(std::toupper(static_cast<unsigned char>(first)))) >=
               0) {
      hint = cat("write \"", text.substr(0, digits),
                 static_cast<char>(std::toupper(static_cast<unsigned char>(first))),
                 "\": one upper-case letter, K, M, G and T being powers of 1024");
    }
    return not_a_size(std::move(hint));
  }
  if (*number > (kMaxBytes >> static_cast<unsigned>(shift))) {
    return fail(cat('"', text, "\" is too large: at most ", kMaxBytes, " bytes"));
  }
  return *number << static_cast<unsigned>(shift);
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::array<char, 4> kSuffixes = {'T', 'G', 'M', 'K'};
  for (std::size_t i = 0; i < kSuffixes.size(); ++i) {
    const unsigned shift = 40 - 10 * static_cast<unsigned>(i);
    const std::uint64_t unit = 1ULL << shift;
    if (bytes != 0 && bytes % unit == 0) return cat(bytes >> shift, kSuffixes[i]);
  }
  return cat(bytes);
}

Result<CpuMax> parse_cpu_max(std::string_view text) {
  const std::string forms =
      "\"50%\" of one CPU (above 100% for several), \"QUOTA PERIOD\" in µs such as "
      "\"50000 100000\", or \"max\"";
  auto wrong = [&](std::string hint = {}) -> std::unexpected<Error> {
    return fail(cat('"', text, "\" is not a CPU limit: write ", forms), std::move(hint));
  };
  CpuMax cpu;
  std::string_view rest = text;
  if (text.ends_with('%')) {
    // Thousandths of a percent of a 100000 µs period are exactly µs of quota.
    std::string_view number = text.substr(0, text.size() - 1);
    std::size_t digits = 0;
    auto whole = leading_number(number, digits);
    if (digits == 0) return wrong();
    std::uint64_t quota = 0;
    std::string_view fraction = number.substr(digits);
    if (!fraction.empty()) {
      if (fraction[0] != '.' || fraction.size() < 2 || fraction.size() > 4 ||
          !std::all_of(fraction.begin() + 1, fraction.end(), is_digit)) {
        return wrong("a percentage has at most three decimals, e.g. \"12.5%\"");
      }
    }
    if (!whole || *whole > kMaxCpuQuotaUs / 1000) {
      return fail(cat('"', text, "\" is above the kernel's largest CPU quota"));
    }
    quota = *whole * 1000;
    std::uint64_t scale = 100;
    for (std::size_t i = 1; i < fraction.size(); ++i, scale /= 10) {
      quota += static_cast<std::uint64_t>(fraction[i] - '0') * scale;
    }
    if (quota < kMinCpuQuotaUs) {
      return fail(cat('"', text, "\" is below the kernel's smallest CPU quota, 1% (1000 µs per ",
                      kCpuPeriodUs, " µs)"));
    }
    if (quota > kMaxCpuQuotaUs) {
      return fail(cat('"', text, "\" is above the kernel's largest CPU quota"));
    }
    cpu.quota_us = quota;
    return cpu;
  }
  const auto space = text.find(' ');
  const std::string_view quota_text = text.substr(0, space);
  if (quota_text == "max") {
    if (space == std::string_view::npos) return cpu;
  } else {
    std::size_t digits = 0;
    auto quota = leading_number(quota_text, digits);
    if (digits == 0 || digits != quota_text.size() || space == std::string_view::npos) {
      return wrong(space == std::string_view::npos && digits == text.size() && digits > 0
                       ? cat("a quota needs its period: \"", text,
                             " 100000\", or write a "
                             "percentage such as \"50%\"")
                       : std::string());
    }
    if (!quota || *quota < kMinCpuQuotaUs || *quota > kMaxCpuQuotaUs) {
      return fail(cat('"', text, "\": the quota must be from ", kMinCpuQuotaUs, " to ",
                      kMaxCpuQuotaUs, " µs (the kernel's bounds)"));
    }
    cpu.quota_us = *quota;
  }
  rest = text.substr(space + 1);
  std::size_t digits = 0;
  auto period = leading_number(rest, digits);
  if (digits == 0 || digits != rest.size()) return wrong();
  if (!period || *period < kMinCpuPeriodUs || *period > kMaxCpuPeriodUs) {
    return fail(cat('"', text, "\": the period must be from ", kMinCpuPeriodUs, " to ",
                    kMaxCpuPeriodUs, " µs (1 ms to 1 s, the kernel's bounds)"));
  }
  cpu.period_us = *period;
  return cpu;
}

std::string format_cpu_max(const CpuMax& cpu) {
  return cat(cpu.quota_us == kNoLimit ? std::string("max") : cat(cpu.quota_us), ' ', cpu.period_us);
}

namespace {

struct SignalName {
  std::string_view name;  // without "SIG"
  int number;
  std::string_view refusal;  // empty: a stop signal
};

// What programs use to stop (nginx QUIT, apache WINCH, many USR1/USR2), then what they cannot.
constexpr SignalName kSignals[] = {
    {"TERM", SIGTERM, {}},
    {"INT", SIGINT, {}},
    {"HUP", SIGHUP, {}},
    {"QUIT", SIGQUIT, {}},
    {"USR1", SIGUSR1, {}},
    {"USR2", SIGUSR2, {}},
    {"ABRT", SIGABRT, {}},
    {"ALRM", SIGALRM, {}},
    {"WINCH", SIGWINCH, {}},
    {"PWR", SIGPWR, {}},
    {"KILL", SIGKILL,
     "SIGKILL cannot be caught, so the service never gets to stop cleanly; ipcrt sends it "
     "anyway once stop-timeout-ms has passed"},
    {"STOP", SIGSTOP,
     "SIGSTOP cannot be caught and suspends the service instead of ending it: every stop would "
     "wait out stop-timeout-ms and end in SIGKILL"},
    {"TSTP", SIGTSTP, "SIGTSTP suspends the service by default instead of ending it"},
    {"TTIN", SIGTTIN, "SIGTTIN suspends the service by default instead of ending it"},
    {"TTOU", SIGTTOU, "SIGTTOU suspends the service by default instead of ending it"},
    {"CONT", SIGCONT, "SIGCONT resumes a process; by default it ends nothing"},
    {"CHLD", SIGCHLD, "SIGCHLD is ignored by default; it reports a child's exit"},
    {"URG", SIGURG, "SIGURG is ignored by default; it reports urgent socket data"},
    {"SEGV", SIGSEGV, "SIGSEGV reports a fault; sent as a stop request it dumps core"},
    {"BUS", SIGBUS, "SIGBUS reports a fault; sent as a stop request it dumps core"},
    {"FPE", SIGFPE, "SIGFPE reports a fault; sent as a stop request it dumps core"},
    {"ILL", SIGILL, "SIGILL reports a fault; sent as a stop request it dumps core"},
    {"TRAP", SIGTRAP, "SIGTRAP is for debuggers; sent as a stop request it dumps core"},
    {"SYS", SIGSYS, "SIGSYS reports a refused system call (seccomp); it dumps core"},
    {"PIPE", SIGPIPE, "SIGPIPE reports a write to a closed pipe, not a stop request"},
    {"XCPU", SIGXCPU, "SIGXCPU reports an exceeded CPU limit, not a stop request"},
    {"XFSZ", SIGXFSZ, "SIGXFSZ reports an exceeded file size limit, not a stop request"},
    {"PROF", SIGPROF, "SIGPROF is a profiling timer, not a stop request"},
    {"VTALRM", SIGVTALRM, "SIGVTALRM is a virtual timer, not a stop request"},
    {"IO", SIGIO, "SIGIO reports I/O readiness, not a stop request"},
    {"POLL", SIGPOLL, "SIGPOLL reports I/O readiness, not a stop request"},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT, "SIGSTKFLT is unused by Linux, not a stop request"},
#endif
};

std::string stop_signal_list() {
  std::vector<std::string> names;
  for (const auto& signal : kSignals) {
    if (signal.refusal.empty()) names.push_back(cat("SIG", signal.name));
  }
  return join(names, ", ");
}

}  // namespace

Result<int> parse_stop_signal(std::string_view text) {
  std::string_view bare = text.starts_with("SIG") ? text.substr(3) : text;
  for (const auto& signal : kSignals) {
    if (signal.name != bare) continue;
    if (!signal.refusal.empty()) {
      return fail(cat('"', text, "\" cannot be a stop signal: ", signal.refusal),
                  cat("use one of ", stop_signal_list()));
    }
    return signal.number;
  }
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string_view upper_bare =
      std::string_view(upper).starts_with("SIG") ? std::string_view(upper).substr(3) : upper;
  const bool known =
      std::any_of(std::begin(kSignals), std::end(kSignals),
                  [&](const SignalName& signal) { return signal.name == upper_bare; });
  if (upper != text && known) {
    return fail(cat("unknown signal \"", text, "\""),
                cat("signal names are upper-case: \"", upper, "\""));
  }
  return fail(cat("unknown signal \"", text, "\""), cat("use one of ", stop_signal_list()));
}

std::string signal_name(int signal) {
  for (const auto& known : kSignals) {
    if (known.number == signal) return cat("SIG", known.name);
  }
  return cat("signal ", signal);
}

}  // namespace ipcrt::config
