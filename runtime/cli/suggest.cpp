// `ipcrt suggest MANIFEST [--seconds N]` (SPEC §15): runs the manifest as `run` does, with
// every service in complain mode, for N seconds or until every service has ended, then stops
// it as SIGTERM would and prints the merge patch that lets it run strict (runtime/suggestion).
#include <charconv>
#include <cstdio>
#include <memory>
#include <string_view>

#include "runtime/cli/commands.hpp"
#include "runtime/daemon.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/suggestion.hpp"

namespace ipcrt::runtime {
namespace {

constexpr unsigned kDefaultSeconds = 10;
constexpr unsigned kMaxSeconds = 24 * 60 * 60;

}  // namespace

int command_suggest(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  unsigned seconds = kDefaultSeconds;
  if (auto value = command_line.option("--seconds")) {
    const std::string_view text = *value;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc() || end != text.data() + text.size() || seconds == 0 ||
        seconds > kMaxSeconds) {
      std::fprintf(stderr,
                   "ipcrt: suggest: --seconds \"%s\": give a whole number of seconds from 1 to "
                   "%u\n",
                   value->c_str(), kMaxSeconds);
      return kExitUsage;
    }
  }
  // Only mediation sees each refused call; the kernel's audit log of a filter alone is not
  // the runtime's to read.
  if (const Status& mediation = mediation_support(); !mediation) {
    std::fprintf(stderr,
                 "ipcrt: suggest: needs name-level mediation (seccomp user notification, Linux "
                 "5.14 or later): %s\n",
                 mediation.error().describe().c_str());
    return kExitBootFailed;
  }
  // The manifest as written: what the patch extends. If it does not load, the run below says
  // why.
  const ConnectedManifest written = load_connected_manifest(path);

  auto collector = std::make_shared<DenialCollector>();
  DaemonOptions options;
  options.manifest_path = path;
  options.confinement = config::Confinement::Complain;
  options.run_for = std::chrono::seconds(seconds);
  options.on_denial = [collector](const DenialEvent& event) { collector->add(event); };
  const ExitCode ran = run_manifest(std::move(options));
  if (ran != kExitOk && ran != kExitServiceFailed) return ran;  // nothing ran: 1 or 3
  if (!written.manifest) return kExitInvalidManifest;

  const Suggestion suggestion = suggest_patch(*written.manifest, collector->denials());
  std::fputs(suggestion.patch.c_str(), stdout);
  std::fflush(stdout);
  for (const auto& reason : suggestion.reasons) std::fprintf(stderr, "%s\n", reason.c_str());
  if (const auto dropped = collector->dropped(); dropped > 0) {
    std::fprintf(stderr,
                 "ipcrt: suggest: %llu more kinds of denial were not kept (at most %zu): run "
                 "again once the patch is applied\n",
                 static_cast<unsigned long long>(dropped), DenialCollector::kMaxKinds);
  }
  if (ran == kExitServiceFailed) {
    std::fprintf(stderr,
                 "ipcrt: suggest: a service failed in complain mode (see its lines above): the "
                 "patch covers only the calls it made\n");
  }
  return kExitOk;
}

}  // namespace ipcrt::runtime
