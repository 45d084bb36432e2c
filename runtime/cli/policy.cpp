// `ipcrt policy MANIFEST SERVICE [--format=text|pfc|bpf]` (SPEC §5): the service's seccomp
// policy as a reviewer reads it (one allowed syscall per line with its reasons), as
// libseccomp's pseudo filter code, or as the raw BPF program that `run` loads.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/plan.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {
namespace {

bool write_all(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(STDOUT_FILENO, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

std::string text_listing(const config::Service& service, const CompiledPolicy& policy) {
  std::string text =
      cat("# ", service.name, ": confinement ", config::confinement_name(service.confinement),
          ", ABIs ", join(policy.architectures, ","), ", other syscalls ",
          service.confinement == config::Confinement::Complain ? "logged and allowed"
                                                               : "fail with EPERM",
          '\n');
  // SPEC §4a: what the filter cannot show, the capabilities the service keeps.
  if (service.confinement != config::Confinement::Off) {
    std::vector<std::string> kept;
    for (const auto& capability : service.capabilities) kept.push_back(capability.name);
    text += kept.empty() ? std::string("# capabilities: none\n")
                         : cat("# capabilities: ", join(kept, ", "),
                               " (ambient; every other one dropped, the bounding set too)\n");
  }
  std::size_t width = 0;
  for (const auto& entry : policy.allowed) width = std::max(width, entry.name.size());
  for (const auto& entry : policy.allowed) {
    text += entry.name;
    text.append(width + 2 - entry.name.size(), ' ');
    text += join(entry.reasons, "; ");
    if (entry.name == "mq_open" && !policy.mq_open_flags.empty()) {
      text += cat(" [flags: ", policy.mq_open_flags, ']');
    }
    text += '\n';
  }
  return text;
}

}  // namespace

int command_policy(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  const std::string& service_name = command_line.positionals.at(1);
  std::string format = command_line.option("--format").value_or("text");
  if (format != "text" && format != "pfc" && format != "bpf") {
    std::fprintf(stderr, "ipcrt: policy: unknown format '%s' (use text, pfc or bpf)\n",
                 format.c_str());
    return kExitUsage;
  }

  config::Diagnostics diagnostics;
  auto planned_manifest =
      plan_manifest({.manifest_path = path, .identities = IdentityMode::Skip}, diagnostics);
  // Warnings (an unconnected plug) go with the listing; errors stop it: a manifest error exits
  // 1, a kernel limit the plan cannot meet 3, as `plan` does.
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!planned_manifest) return report_step_failure("policy", planned_manifest.error());
  const config::Manifest& manifest = planned_manifest->manifest;
  const config::Service* service = manifest.find_service(service_name);
  if (service == nullptr) {
    std::vector<std::string> names;
    for (const auto& known : manifest.services) names.push_back(known.name);
    std::fprintf(stderr, "%s: /services: error: no service \"%s\" (services: %s)\n", path.c_str(),
                 service_name.c_str(), join(names, ", ").c_str());
    return kExitInvalidManifest;
  }
  const PlannedService* planned = planned_manifest->plan.find_service(service_name);
  if (planned == nullptr) {
    std::fprintf(stderr, "ipcrt: policy: service %s is missing from the plan\n",
                 service_name.c_str());
    return kExitInvalidManifest;
  }

  if (service->confinement == config::Confinement::Off) {
    if (format == "text") {
      std::printf("# %s: confinement off: no seccomp filter, every syscall allowed\n",
                  service->name.c_str());
    }
    return kExitOk;  // nothing is loaded: pfc and bpf are empty
  }
  auto policy =
      compile_service_policy(*service, *planned, "native", mediation_support().has_value());
  if (!policy) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), policy.error().describe().c_str());
    return kExitInvalidManifest;
  }
  bool written = false;
  if (format == "bpf") {
    const auto& instructions = policy->program.instructions;
    written = write_all(instructions.data(), instructions.size() * sizeof(sock_filter));
  } else {
    std::string text = format == "pfc" ? policy->pfc : text_listing(*service, *policy);
    written = write_all(text.data(), text.size());
  }
  if (!written) {
    std::perror("ipcrt: policy: writing to stdout");
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace ipcrt::runtime
