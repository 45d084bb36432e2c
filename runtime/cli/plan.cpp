// `ipcrt plan MANIFEST [--json]` (SPEC §3, §7): what `run` would create and start, with every
// kernel limit checked; changes nothing on the system.
#include "runtime/plan.hpp"

#include <algorithm>
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/plan_output.hpp"
#include "runtime/gateway_sandbox.hpp"
#include "runtime/launch.hpp"
#include "runtime/launch_view.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/notification.hpp"

namespace ipcrt::runtime {

int command_plan(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  config::Diagnostics diagnostics;
  auto planned =
      plan_manifest({.manifest_path = path, .identities = IdentityMode::Preview}, diagnostics);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!planned) return report_step_failure("plan", planned.error());
  Plan& plan = planned->plan;

  // The JSON's warnings list everything `plan` warned about, connections included.
  std::vector<std::string> warnings;
  for (const auto& item : diagnostics.items()) {
    if (item.severity != config::Severity::Warning) continue;
    std::string text = item.pointer.empty() ? item.text() : cat(item.pointer, ": ", item.text());
    if (std::find(warnings.begin(), warnings.end(), text) == warnings.end())
      warnings.push_back(text);
  }
  plan.warnings = std::move(warnings);

  // Each service's view from the launch `run` would prepare (without its filter).
  ServiceViews views;
  LaunchOptions options;
  options.capture_output = true;
  options.new_ipc_namespace = mediation_support().has_value();
  for (const auto& service : plan.services) {
    const config::Service* declared = planned->manifest.find_service(service.name);
    const Account* account = plan.identities.find_account(service.name);
    if (declared == nullptr || account == nullptr) continue;
    LaunchSpec spec = prepare_launch(*declared, service, account->identity, {}, {}, options);
    add_gateway_sandbox(spec, *declared, service, *account, plan.identities);
    views[service.name] = {service_environment(*declared, service), describe_view(spec)};
  }

  const std::string text =
      command_line.flag("--json") ? render_plan_json(plan, views) : render_plan_text(plan, views);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
