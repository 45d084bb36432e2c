// `ipcrt exec [--manifest NAME] SERVICE [COMMAND...]` (SPEC §4a): a command (default /bin/sh)
// in a running service's exact sandbox, for debugging on a device. Root only. The runtime
// is asked only where the service runs (GetStatus); the sandbox is entered by this process
// (runtime/service_exec.hpp), so the supervisor never waits for it.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"
#include "runtime/gateway_sandbox.hpp"
#include "runtime/launch.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/seccomp/service_policy.hpp"
#include "runtime/service_exec.hpp"

namespace ipcrt::runtime {

int command_exec(const CommandLine& command_line) {
  const std::string& name = command_line.positionals.front();
  auto refuse = [&](const std::string& message, const std::string& hint, int status) {
    std::fprintf(stderr, "ipcrt: exec: %s\n  hint: %s\n", message.c_str(), hint.c_str());
    return status;
  };
  if (::geteuid() != 0) {
    return refuse("entering a service's sandbox needs root",
                  "run it as root: the command gets the service's uid, groups and filter",
                  kExitUnreachable);
  }
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto status = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetStatus");
  if (!status) return status.error();
  const control::Json* found = nullptr;
  std::vector<std::string> known;
  for (const auto& service : (*status)["services"]) {
    known.push_back(cell(service, "name"));
    if (known.back() == name) found = &service;
  }
  if (found == nullptr) {
    return refuse(cat("no service \"", name, "\""), cat("services: ", join(known, ", ")),
                  kExitBootFailed);
  }
  if (!(*found)["mainPid"].is_number()) {
    return refuse(cat("service ", name, " is not running (", cell(*found, "state"), ")"),
                  cat("start it first: ipcrt start ", name), kExitBootFailed);
  }
  const auto main_pid = static_cast<pid_t>((*found)["mainPid"].get<long long>());
  const std::string manifest_path = cell((*status)["runtime"], "manifestPath");

  // What `run` prepared for it, from the manifest the runtime runs.
  config::Diagnostics diagnostics;
  PlanRequest request;
  request.manifest_path = manifest_path;
  auto planned = plan_manifest(request, diagnostics);
  if (!planned) return report_step_failure("exec", planned.error());
  const config::Service* declared = planned->manifest.find_service(name);
  const PlannedService* service = nullptr;
  for (const auto& candidate : planned->plan.services) {
    if (candidate.name == name) service = &candidate;
  }
  const Account* account = planned->plan.identities.find_account(name);
  if (declared == nullptr || service == nullptr || account == nullptr) {
    return refuse(cat("service ", name, " is not in ", manifest_path, " any more"),
                  "reload the manifest or restart the runtime", kExitBootFailed);
  }
  const bool mediate = mediation_support().has_value();
  FilterCache filters;
  auto filter = filters.filter_for(*declared, *service, mediate);
  if (!filter) return refuse(filter.error().describe(), "see ipcrt policy", kExitBootFailed);
  LaunchOptions options;
  options.new_ipc_namespace = mediate;
  LaunchSpec spec =
      prepare_launch(*declared, *service, account->identity, std::move(*filter), {}, options);
  add_gateway_sandbox(spec, *declared, *service, *account, planned->plan.identities);
  // stat(2), not std::filesystem: one call does not justify its path machinery in the binary.
  struct stat cgroup_dir {};
  if (!service->cgroup.empty() && ::stat(service->cgroup.c_str(), &cgroup_dir) == 0 &&
      S_ISDIR(cgroup_dir.st_mode)) {
    spec.cgroup = service->cgroup;
  }

  std::optional<MediationServer> mediation;
  if (spec.filter.uses_notify) mediation.emplace(planned->manifest, planned->plan);
  ExecRequest exec;
  exec.main_pid = main_pid;
  exec.spec = &spec;
  exec.command.assign(command_line.positionals.begin() + 1, command_line.positionals.end());
  if (exec.command.empty()) exec.command = {"/bin/sh"};
  exec.mediation = mediation ? &*mediation : nullptr;
  auto ended = exec_in_service(exec);
  if (mediation) mediation->flush();
  if (!ended)
    return refuse(ended.error().describe(),
                  ended.error().hint.empty() ? "see ipcrt status " + name : ended.error().hint,
                  kExitBootFailed);
  if (WIFEXITED(*ended)) return WEXITSTATUS(*ended);
  return 128 + (WIFSIGNALED(*ended) ? WTERMSIG(*ended) : 0);
}

}  // namespace ipcrt::runtime
