// `ipcrt run MANIFEST [--board NAME]` (SPEC §4): validate, plan, compile the filters, resolve
// users, boot the resources, then supervise until everything has ended or a stop is requested.
// Everything that can fail without side effects is done before the first resource is created.
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

#include "common/log.hpp"
#include "common/text.hpp"
#include "runtime/board.hpp"
#include "runtime/boot.hpp"
#include "runtime/commands.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation.hpp"
#include "runtime/policy.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {
namespace {

int boot_failed(const std::string& what, const Error& error) {
  log_error("boot failed").field("step", what).field("error", error.describe());
  return kExitBootFailed;
}

// The supervisor's side of every mediated service (SPEC §6): one MediatedService and one
// rate-limited DenialLog per service, kept across restarts; each listener is served by the
// supervisor's epoll loop until the service's last task is gone (EPOLLHUP).
class MediationServer {
 public:
  MediationServer(const config::Manifest& manifest, const Plan& plan,
                  const Identities& identities) {
    for (const auto& planned : plan.services) {
      const config::Service& service = *manifest.find_service(planned.name);
      MediatedService mediated;
      mediated.name = planned.name;
      mediated.grants = planned.queues;
      mediated.uid = identities.at(planned.name).uid;
      mediated.gid = identities.at(planned.name).gid;
      mediated.msg_max = plan.kernel.limits.msg_max;
      mediated.msgsize_max = plan.kernel.limits.msgsize_max;
      mediated.complain = service.confinement == config::Confinement::Complain;
      mediated.need_for_syscall = [&service](const std::string& syscall) {
        return need_for_syscall(service, syscall);
      };
      services_.emplace(planned.name, std::move(mediated));
      logs_.emplace(planned.name, std::make_unique<DenialLog>(planned.name));
    }
  }

  ListenerHandler handler() {
    return [this](Supervisor& supervisor, const std::string& name, pid_t,
                  platform::UniqueFd listener) { serve(supervisor, name, std::move(listener)); };
  }

  void flush() {
    for (auto& [name, log] : logs_) log->flush();
  }

 private:
  void serve(Supervisor& supervisor, const std::string& name, platform::UniqueFd listener) {
    const MediatedService& service = services_.at(name);
    DenialLog& log = *logs_.at(name);
    const int fd = listener.release();
    auto watched =
        supervisor.watch(fd, EPOLLIN, [&supervisor, &service, &log, fd](std::uint32_t events) {
          if ((events & EPOLLIN) != 0) handle_notification(fd, service, log);
          if ((events & (EPOLLHUP | EPOLLERR)) != 0) {
            log.flush();
            supervisor.unwatch(fd);
            ::close(fd);
          }
        });
    if (!watched) {
      // The service's mediated calls will fail with ENOSYS; say why.
      log_error("cannot watch the seccomp listener")
          .field("service", name)
          .field("error", watched.error().describe());
      ::close(fd);
    }
  }

  std::map<std::string, MediatedService> services_;
  std::map<std::string, std::unique_ptr<DenialLog>> logs_;
};

}  // namespace

int command_run(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  // Signals that arrive during boot stay pending until the supervisor's signalfd reads them,
  // so a SIGTERM now still stops cleanly instead of leaving half-built state behind.
  sigset_t supervised;
  sigemptyset(&supervised);
  for (int signal : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&supervised, signal);
  sigprocmask(SIG_BLOCK, &supervised, nullptr);

  if (auto board_name = command_line.option("--board")) {
    auto board = find_board(*board_name);
    if (!board) {
      std::fprintf(stderr, "ipcrt: run: %s\n", board.error().describe().c_str());
      return kExitUsage;
    }
    if (auto applied = apply_board_sysctls(*board); !applied) {
      return boot_failed("board-sysctls", applied.error());
    }
  }

  // Said once at boot; without it the filters alone apply (SPEC §5) and queue patterns, which
  // only mediation can enforce, are refused by the parser.
  const Status& mediation = mediation_support();
  if (!mediation) {
    log_warn("name-level mediation unavailable: seccomp filters only")
        .field("reason", mediation.error().describe());
  }
  auto loaded = load_connected_manifest(path);
  config::Diagnostics& diagnostics = loaded.diagnostics;
  if (diagnostics.has_errors()) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return kExitInvalidManifest;
  }
  const config::Manifest& manifest = *loaded.manifest;
  const std::vector<config::Connection>& connections = loaded.connections;

  // Users first: the plan checks that queues it would adopt belong to their slot's user.
  auto identities = resolve_identities(manifest);
  if (!identities) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return boot_failed("users", identities.error());
  }

  auto kernel = read_kernel_state();
  if (!kernel) return boot_failed("kernel-state", kernel.error());
  auto plan = make_plan(manifest, connections, *kernel, diagnostics, &*identities);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!plan) return kExitBootFailed;  // limits, foreign queues: nothing was created

  std::vector<platform::BpfProgram> filters;
  FilterCache filter_cache;
  for (const auto& planned : plan->services) {
    auto filter = filter_cache.filter_for(*manifest.find_service(planned.name), planned,
                                          mediation.has_value());
    if (!filter) return boot_failed(cat("seccomp-compile ", planned.name), filter.error());
    filters.push_back(std::move(*filter));
  }

  auto resources = boot_resources(*plan, *identities);
  if (!resources) return boot_failed("resources", resources.error());

  std::vector<SupervisedService> services;
  for (std::size_t i = 0; i < plan->services.size(); ++i) {
    const auto& planned = plan->services[i];
    const config::Service& service = *manifest.find_service(planned.name);
    SupervisedService supervised_service;
    supervised_service.spec =
        prepare_launch(service, planned, identities->at(planned.name), std::move(filters[i]),
                       resources->service_default_rlimits);
    supervised_service.restart = service.restart;
    supervised_service.restart_delay_ms = service.restart_delay_ms;
    supervised_service.depends_on = service_dependencies(manifest, *plan, planned.name);
    services.push_back(std::move(supervised_service));
  }

  MediationServer mediation_server(manifest, *plan, *identities);
  SupervisorOptions options;
  options.on_listener = mediation_server.handler();
  Supervisor supervisor(std::move(services), std::move(options));
  auto result = supervisor.run();
  mediation_server.flush();
  release_resources(*resources);
  if (!result) {
    log_error("supervisor failed").field("error", result.error().describe());
    return kExitServiceFailed;
  }
  int status = result->any_failed ? kExitServiceFailed : kExitOk;
  log_info(result->outcome == SupervisorOutcome::Stopped ? "stopped" : "all services ended")
      .field("status", status);
  return status;
}

}  // namespace ipcrt::runtime
