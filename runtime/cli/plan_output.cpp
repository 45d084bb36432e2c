// Rendering of plans and limits. JSON key order is the order of SPEC §7 (ordered_json).
#include "runtime/cli/plan_output.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

using Json = nlohmann::ordered_json;
using config::permission_names;

std::string bytes_or_unlimited(std::uint64_t value) {
  return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value);
}

Json limit_or_null(std::uint64_t value) {
  return value == RLIM_INFINITY ? Json(nullptr) : Json(value);
}

Json or_null(const std::string& text) {
  return text.empty() ? Json(nullptr) : Json(text);
}

std::string or_unknown(const std::string& text) {
  return text.empty() ? std::string("?") : text;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

}  // namespace

std::string queue_owner(const Plan& plan, const PlannedQueue& queue) {
  const Account* account = plan.identities.find_account(queue.owner_service);
  const auto group = plan.identities.slot_group(queue.slot);
  if (account == nullptr || !group) return {};
  return cat(account->identity.uid, ':', *group);
}

namespace {

ServiceDetail detail_of(const ServiceViews& views, const PlannedService& service) {
  auto found = views.find(service.name);
  return found == views.end() ? ServiceDetail{service.environment, {}} : found->second;
}

}  // namespace

std::string render_plan_json(const Plan& plan, const ServiceViews& views) {
  Json root = Json::object();
  Json queues = Json::array();
  for (const auto& queue : plan.queues) {
    queues.push_back({{"path", queue.path},
                      {"max-messages", queue.max_messages},
                      {"message-size", queue.message_size},
                      {"mode", octal_mode(queue.mode)},
                      {"owner", or_null(queue_owner(plan, queue))},
                      {"slot", queue.slot}});
  }
  Json shm = Json::array();
  for (const auto& object : plan.shm) {
    shm.push_back({{"name", object.name},
                   {"slot", object.slot},
                   {"readers", object.readers},
                   {"writers", object.writers}});
  }
  Json private_shm = Json::array();
  Json connections = Json::array();
  for (const auto& connection : plan.connections) {
    connections.push_back({{"plug", connection.plug_ref()},
                           {"slot", connection.slot_ref()},
                           {"interface", config::interface_name(connection.interface)},
                           {"auto", connection.automatic}});
  }
  Json services = Json::array();
  for (const auto& service : plan.services) {
    if (!service.shm_dir.empty()) {
      private_shm.push_back({{"service", service.name}, {"dir", service.shm_dir}});
    }
    Json granted = Json::object();
    for (const auto& grant : service.queues) {
      Json& names = granted[grant.path];
      if (names.is_null()) names = Json::array();
      for (const auto& name : permission_names(grant.permissions)) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
    const Account* account = plan.identities.find_account(service.name);
    const ServiceDetail detail = detail_of(views, service);
    Json environment = Json::object();
    for (const auto& [key, value] : detail.environment) environment[key] = value;
    services.push_back({{"name", service.name},
                        {"start-order", service.start_order},
                        {"uid", account ? Json(account->identity.uid) : Json(nullptr)},
                        {"gid", account ? Json(account->identity.gid) : Json(nullptr)},
                        {"type", service.type == config::ServiceType::Notify    ? "notify"
                                 : service.type == config::ServiceType::Oneshot ? "oneshot"
                                                                                : "simple"},
                        {"queues", granted},
                        {"command", service.command},
                        {"environment", environment},
                        {"view", detail.view}});
    // pass-queues (SPEC §11): an extension of §7's object, only where queues are passed.
    if (!service.passed_queues.empty()) {
      Json passed = Json::array();
      for (const auto& queue : service.passed_queues) {
        passed.push_back(
            {{"fd", queue.fd}, {"path", queue.path}, {"access", access_mode_name(queue.access)}});
      }
      services.back()["passed-fds"] = passed;
    }
    // SPEC §13, beside §7's keys where there is a cgroup: its directory and its limits' files.
    if (!service.cgroup.empty()) {
      Json cgroup_files = Json::object();
      for (const auto& [file, value] : service.cgroup_settings) cgroup_files[file] = value;
      services.back()["cgroup"] = service.cgroup;
      services.back()["cgroup-files"] = cgroup_files;
    }
  }
  root["queues"] = queues;
  root["shm"] = shm;
  root["private-shm"] = private_shm;
  root["connections"] = connections;
  root["services"] = services;
  root["warnings"] = plan.warnings;
  return root.dump(2) + "\n";
}

std::string render_plan_text(const Plan& plan, const ServiceViews& views) {
  std::string out = cat("plan for ", plan.manifest_name, '\n');
  long to_create = 0;
  long adopted = 0;
  for (const auto& queue : plan.queues) {
    to_create += queue.create && !queue.adopt;
    adopted += queue.adopt;
  }
  out += cat("queues: ", std::to_string(to_create), " to create, ", std::to_string(adopted),
             " to adopt, ", std::to_string(plan.charged_bytes), " bytes of RLIMIT_MSGQUEUE\n");
  for (const auto& queue : plan.queues) {
    const char* action = queue.adopt ? "adopt " : queue.create ? "create" : "use   ";
    if (queue.path.find('*') != std::string::npos) action = "match ";
    out += cat("  ", action, ' ', pad(queue.path, 20), " max-messages ",
               std::to_string(queue.max_messages), " message-size ",
               std::to_string(queue.message_size), " mode ", octal_mode(queue.mode), " owner ",
               or_unknown(queue_owner(plan, queue)), " slot ", queue.slot,
               queue.repair ? " (owner and mode put back)" : "", '\n');
  }
  if (!plan.shm.empty()) {
    out += cat("shared memory (on a tmpfs of ", std::to_string(plan.shm_store_bytes), " bytes at ",
               plan.shm_store, ", seen by services at /dev/shm/NAME):\n");
  }
  for (const auto& object : plan.shm) {
    out += cat("  create /dev/shm/", object.name, " slot ", object.slot, " writers ",
               join(object.writers, ","), " readers ",
               object.readers.empty() ? std::string("-") : join(object.readers, ","), '\n');
  }
  const auto& cgroups = plan.kernel.cgroups;
  if (cgroups.usable) {
    out += cat("cgroups: ", cgroups.manifest_dir(plan.manifest_name), " (controllers offered: ",
               cgroups.controllers.empty() ? std::string("none") : join(cgroups.controllers, " "),
               ")\n");
  } else {
    out += cat("cgroups: none, services are contained by their PID namespaces (",
               cgroups.why_not.message, ")\n");
  }
  out += "start order:\n";
  for (const auto& service : plan.services) {
    out += cat("  ", std::to_string(service.start_order), ' ', service.name);
    if (!service.shm_dir.empty()) out += cat(" (/dev/shm: ", service.shm_dir, ')');
    out += '\n';
    if (const Account* account = plan.identities.find_account(service.name)) {
      const auto& identity = account->identity;
      out +=
          cat("      user ", account->user_name, " uid ", identity.uid, " gid ", identity.gid,
              " groups ", join(identity.groups, ","), account->dynamic ? " (dynamic)" : "", '\n');
    }
    const ServiceDetail detail = detail_of(views, service);
    if (!service.command.empty()) out += cat("      command ", join(service.command, " "), '\n');
    for (const auto& [key, value] : detail.environment) {
      out += cat("      env ", key, '=', value, '\n');
    }
    for (const auto& line : detail.view) out += cat("      view ", line, '\n');
    for (const auto& grant : service.queues) {
      out += cat("      mq  ", pad(grant.path, 20), ' ',
                 join(permission_names(grant.permissions), ","),
                 grant.owner ? " (owner)" : cat(" via ", grant.via), '\n');
    }
    for (const auto& queue : service.passed_queues) {
      out += cat("      fd  ", queue.fd, ' ', pad(queue.path, 18), ' ',
                 access_mode_name(queue.access), " (pass-queues)\n");
    }
    for (const auto& grant : service.shm) {
      out += cat("      shm ", pad(grant.name, 20), ' ',
                 grant.writable ? "read-write" : "read-only", " via ", grant.via, '\n');
    }
    if (!service.cgroup.empty()) {
      out += cat("      cgroup ", service.cgroup);
      for (const auto& [file, value] : service.cgroup_settings) out += cat(' ', file, '=', value);
      out += '\n';
    }
  }
  for (const auto& warning : plan.warnings) out += cat("warning: ", warning, '\n');
  return out;
}

LimitsUsage limits_usage(const KernelState& kernel) {
  LimitsUsage usage;
  usage.queues = static_cast<long>(kernel.existing_queues.size());
  const uid_t self = ::getuid();
  for (const auto& queue : kernel.existing_queues) {
    if (queue.owner_uid == self && queue.max_messages > 0) {
      usage.charged_bytes += platform::queue_charge_bytes(queue.max_messages, queue.message_size);
    }
  }
  return usage;
}

std::string render_limits_text(const KernelState& kernel) {
  const auto& limits = kernel.limits;
  const auto usage = limits_usage(kernel);
  auto row = [](const std::string& name, const std::string& value, const std::string& used,
                const std::string& headroom) {
    std::string line = cat(pad(name, 30), pad(value, 12), pad(used, 10), headroom);
    line.erase(line.find_last_not_of(' ') + 1);
    return line + '\n';
  };
  const std::uint64_t soft = limits.rlimit_msgqueue_soft;
  std::string out = row("limit", "value", "used", "headroom");
  out += row("fs.mqueue.msg_max", std::to_string(limits.msg_max), "", "");
  out += row("fs.mqueue.msgsize_max", std::to_string(limits.msgsize_max), "", "");
  out += row("fs.mqueue.msg_default", std::to_string(limits.msg_default), "", "");
  out += row("fs.mqueue.msgsize_default", std::to_string(limits.msgsize_default), "", "");
  out += row("fs.mqueue.queues_max", std::to_string(limits.queues_max),
             std::to_string(usage.queues), std::to_string(limits.queues_max - usage.queues));
  out += row("RLIMIT_MSGQUEUE soft (bytes)", bytes_or_unlimited(soft),
             std::to_string(usage.charged_bytes),
             soft == RLIM_INFINITY ? std::string("unlimited")
                                   : std::to_string(static_cast<long long>(soft) -
                                                    static_cast<long long>(usage.charged_bytes)));
  out +=
      row("RLIMIT_MSGQUEUE hard (bytes)", bytes_or_unlimited(limits.rlimit_msgqueue_hard), "", "");
  out += row("hard ceiling max-messages", std::to_string(platform::kHardMsgMax), "", "");
  out += row("hard ceiling message-size", std::to_string(platform::kHardMsgSizeMax), "", "");
  out += cat("privileged (CAP_SYS_RESOURCE): ", kernel.privileged ? "yes" : "no", '\n');
  out += "used bytes: queues owned by this uid (the kernel charges a queue's creator)\n";
  return out;
}

std::string render_limits_json(const KernelState& kernel) {
  const auto& limits = kernel.limits;
  const auto usage = limits_usage(kernel);
  const std::uint64_t soft = limits.rlimit_msgqueue_soft;
  Json root = Json::object();
  root["msg_max"] = limits.msg_max;
  root["msgsize_max"] = limits.msgsize_max;
  root["msg_default"] = limits.msg_default;
  root["msgsize_default"] = limits.msgsize_default;
  root["queues_max"] = limits.queues_max;
  root["hard_msg_max"] = platform::kHardMsgMax;
  root["hard_msgsize_max"] = platform::kHardMsgSizeMax;
  root["rlimit_msgqueue"] = {{"soft", limit_or_null(soft)},
                             {"hard", limit_or_null(limits.rlimit_msgqueue_hard)}};
  root["privileged"] = kernel.privileged;
  root["usage"] = {{"queues", usage.queues}, {"charged_bytes", usage.charged_bytes}};
  root["headroom"] = {
      {"queues", limits.queues_max - usage.queues},
      {"charged_bytes", soft == RLIM_INFINITY ? Json(nullptr)
                                              : Json(static_cast<long long>(soft) -
                                                     static_cast<long long>(usage.charged_bytes))}};
  return root.dump(2) + "\n";
}

}  // namespace ipcrt::runtime
