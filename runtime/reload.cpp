// The reload state machine (SPEC §12).
#include "runtime/reload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mqueue.hpp"
#include "runtime/boot.hpp"
#include "runtime/daemon.hpp"
#include "runtime/identities.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/notify_sockets.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const PlannedService* planned_of(const Plan& plan, const std::string& name) {
  for (const auto& planned : plan.services) {
    if (planned.name == name) return &planned;
  }
  return nullptr;
}

const PlannedQueue* queue_of(const Plan& plan, const std::string& path) {
  for (const auto& queue : plan.queues) {
    if (queue.path == path) return &queue;
  }
  return nullptr;
}

bool ended(ServiceState state) {
  return state == ServiceState::Stopped || state == ServiceState::Exited ||
         state == ServiceState::Failed || state == ServiceState::Waiting;
}

std::optional<ServiceStatus> status_of(const Supervisor& supervisor, const std::string& name) {
  for (auto& status : supervisor.status()) {
    if (status.name == name) return status;
  }
  return std::nullopt;
}

// The shared-memory side of a plan: a reload does not resize the objects' tmpfs (yet).
std::string shm_signature(const Plan& plan) {
  std::string text = cat(plan.shm_store_bytes, ';');
  for (const auto& object : plan.shm) {
    text += cat(object.name, '|', object.slot, '|', object.size.value_or(0), '|',
                object.semaphore_value.value_or(0), '|', join(object.readers, ","), '|',
                join(object.writers, ","), ';');
  }
  return text;
}

// Writes `text` to `path` whole or not at all (a temporary file, fsync, rename).
Status write_atomically(const std::string& path, const std::string& text) {
  const std::string directory = path.substr(0, path.rfind('/'));
  const std::string parent = directory.substr(0, directory.rfind('/'));
  ::mkdir(parent.c_str(), 0755);
  if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", directory));
  }
  const std::string temporary = cat(path, ".new");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno(cat("open ", temporary));
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t count = ::write(fd, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      ::close(fd);
      return fail_errno(cat("write ", temporary));
    }
    written += static_cast<std::size_t>(count);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail_errno(cat("rename ", path));
  return {};
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

Json names_json(const std::vector<std::string>& names) {
  Json list = Json::array();
  for (const auto& name : names) list.push_back(name);
  return list;
}

// `value` with every object's members sorted by key, at every depth: its dump is the same for
// the same object, whatever its member order in the file. (What nlohmann::json, which keeps
// objects in a std::map, gives by itself; it would be a second instantiation of nlohmann's
// parser and serializer in the binary, 19 KB of aarch64 text.)
Json sorted_members(const Json& value) {
  if (value.is_array()) {
    Json sorted = Json::array();
    for (const auto& element : value) sorted.push_back(sorted_members(element));
    return sorted;
  }
  if (!value.is_object()) return value;
  std::vector<Json::const_iterator> members;
  for (auto member = value.begin(); member != value.end(); ++member) members.push_back(member);
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.key() < b.key(); });
  Json sorted = Json::object();
  for (const auto& member : members) sorted[member.key()] = sorted_members(member.value());
  return sorted;
}

}  // namespace

std::map<std::string, std::string> service_fingerprints(const std::string& text, const Plan& plan,
                                                        const std::string& board) {
  std::map<std::string, std::string> fingerprints;
  // The dump of a service with its members sorted is the same for the same object, whatever
  // its member order, spacing or number spelling in the file.
  Json document = Json::parse(text, nullptr, false);
  for (const auto& planned : plan.services) {
    std::string print;
    if (document.is_object() && document.contains("services") &&
        document["services"].is_object() && document["services"].contains(planned.name)) {
      print = sorted_members(document["services"][planned.name]).dump();
    }
    print += cat("|order:", join(planned.depends_on, ","), "|type:", static_cast<int>(planned.type));
    for (const auto& grant : planned.queues) {
      print += cat("|q:", grant.path, ',', grant.permissions, ',', grant.via, ',', grant.owner);
    }
    for (const auto& grant : planned.shm) print += cat("|s:", grant.name, ',', grant.writable);
    for (const auto& [key, value] : planned.environment) print += cat("|e:", key, '=', value);
    print += cat("|c:", join(planned.command, " "), "|cg:", planned.cgroup);
    for (const auto& [file, value] : planned.cgroup_settings) print += cat("|", file, '=', value);
    if (const Account* account = plan.identities.find_account(planned.name)) {
      print += cat("|uid:", account->identity.uid, "|gid:", account->identity.gid, "|groups:");
      for (gid_t group : account->identity.groups) print += cat(group, ',');
    }
    print += cat("|board:", board);
    fingerprints.emplace(planned.name, std::move(print));
  }
  return fingerprints;
}

ReloadDiff diff_generations(const Generation& from, const Generation& to) {
  ReloadDiff diff;
  for (const auto& planned : to.plan.services) {
    auto old = from.fingerprints.find(planned.name);
    if (old == from.fingerprints.end()) {
      diff.added.push_back(planned.name);
    } else if (old->second != to.fingerprints.at(planned.name)) {
      diff.changed.push_back(planned.name);
    } else {
      diff.unchanged.push_back(planned.name);
    }
  }
  for (const auto& planned : from.plan.services) {
    if (to.fingerprints.find(planned.name) == to.fingerprints.end()) {
      diff.removed.push_back(planned.name);
    }
  }
  for (const auto& queue : to.plan.queues) {
    if (!queue.create) continue;
    const PlannedQueue* old = queue_of(from.plan, queue.path);
    if (old == nullptr || !old->create) {
      diff.queues_added.push_back(queue.path);
    } else if (old->max_messages != queue.max_messages || old->message_size != queue.message_size) {
      diff.queues_recreated.push_back(queue.path);
    }
  }
  for (const auto& queue : from.plan.queues) {
    const PlannedQueue* kept = queue_of(to.plan, queue.path);
    if (queue.create && (kept == nullptr || !kept->create)) diff.queues_removed.push_back(queue.path);
  }
  // A recreated queue is empty once every service granted it has stopped (SPEC §12): each of
  // them restarts, in either manifest.
  for (const auto& path : diff.queues_recreated) {
    for (const Plan* plan : {&from.plan, &to.plan}) {
      for (const auto& planned : plan->services) {
        const bool granted = std::any_of(planned.queues.begin(), planned.queues.end(),
                                         [&](const QueueGrant& grant) { return grant.path == path; });
        if (!granted || !contains(diff.unchanged, planned.name)) continue;
        std::erase(diff.unchanged, planned.name);
        diff.changed.push_back(planned.name);
      }
    }
  }
  return diff;
}

std::string last_good_path(const std::string& manifest_name) {
  return cat(AccountSources::state_directory(), '/', manifest_name, "/last-good.json");
}

Reloader::Reloader(Daemon& daemon, Supervisor& supervisor, Generation running,
                   control::ReloadCounts& counts)
    : daemon_(daemon), supervisor_(supervisor), current_(std::move(running)), counts_(counts) {}

void Reloader::finish(std::string_view error, Json parameters) {
  {
    auto line = error.empty() ? log_info("reload done") : log_warn("reload failed");
    if (!error.empty()) line.field("error", error);
    if (auto reason = parameters.find("reason"); reason != parameters.end() && reason->is_string()) {
      line.field("reason", reason->get<std::string>());
    }
  }
  phase_ = Phase::Idle;
  target_.reset();
  previous_.reset();
  if (auto reply = std::exchange(reply_, {})) reply(error, std::move(parameters));
}

void Reloader::request(std::string path, std::chrono::milliseconds confirm,
                       control::DeferredReply reply) {
  auto refuse = [&](const std::string& reason, Json diagnostics = nullptr) {
    log_warn("reload refused").field("reason", reason);
    if (reply) reply(control::kReloadRefused, {{"reason", reason}, {"diagnostics", diagnostics}});
  };
  if (phase_ != Phase::Idle) return refuse("another reload is in progress");
  if (supervisor_.shutting_down()) return refuse("the runtime is shutting down");
  if (path.empty()) path = current_.path;
  log_info("reload").field("manifest", path).field("confirm-ms", confirm.count());

  PlanRequest request;
  request.manifest_path = path;
  request.identities = IdentityMode::Reload;
  request.board = daemon_.options_.board ? &*daemon_.options_.board : nullptr;
  for (const auto& queue : current_.plan.queues) request.running_queues.push_back(queue.path);
  config::Diagnostics diagnostics;
  auto planned = plan_manifest(request, diagnostics);
  Json lines = Json::array();
  for (const auto& line : split_lines(diagnostics.format(path))) {
    if (!line.empty()) lines.push_back(line);
  }
  if (!planned) {
    const StepFailure& failure = planned.error();
    if (failure.exit_code == kExitInvalidManifest) {
      log_warn("reload refused").field("reason", "invalid manifest").field("manifest", path);
      if (reply) reply(control::kInvalidManifest, {{"manifest", path}, {"diagnostics", lines}});
      return;
    }
    return refuse(cat(failure.step, " failed",
                      failure.error ? cat(": ", failure.error->describe()) : std::string()),
                  lines);
  }
  if (planned->manifest.name != current_.manifest.name) {
    return refuse(cat("the manifest's name changed from \"", current_.manifest.name, "\" to \"",
                      planned->manifest.name,
                      "\": a reload keeps the name; run the other manifest on its own"));
  }
  if (shm_signature(planned->plan) != shm_signature(current_.plan)) {
    return refuse(
        "its shared-memory objects differ from the running ones: a reload does not resize the "
        "runtime's shm store; restart the runtime (ipcrt shutdown, then run) to change them");
  }
  auto text = read_text_file(path);
  if (!text) return refuse(text.error().describe());
  Generation next;
  next.path = path;
  next.text = std::move(*text);
  next.manifest = std::move(planned->manifest);
  next.connections = std::move(planned->connections);
  next.plan = std::move(planned->plan);
  next.fingerprints = service_fingerprints(
      next.text, next.plan, daemon_.options_.board ? daemon_.options_.board->name : std::string());
  const ReloadDiff diff = diff_generations(current_, next);
  // New dynamic ids are kept from now on: the services about to start own things with them.
  if (planned->registry) {
    if (auto saved = planned->registry->save(); !saved) return refuse(saved.error().describe());
  }
  confirm_ = confirm;
  reply_ = std::move(reply);
  previous_ = current_;
  target_ = std::move(next);
  {
    auto line = log_info("reload plan");
    line.field("added", join(diff.added, ","))
        .field("removed", join(diff.removed, ","))
        .field("changed", join(diff.changed, ","))
        .field("unchanged", join(diff.unchanged, ","));
  }
  begin(diff, false);
}

void Reloader::begin(const ReloadDiff& diff, bool rollback) {
  transition_ = Transition{};
  transition_.diff = diff;
  transition_.rollback = rollback;
  phase_ = Phase::Stopping;
  step();
}

void Reloader::service_changed() {
  if (phase_ == Phase::Idle || step_scheduled_) return;
  step_scheduled_ = true;
  supervisor_.after(std::chrono::milliseconds(0), [this] {
    step_scheduled_ = false;
    step();
  });
}

void Reloader::step() {
  if (phase_ == Phase::Stopping) {
    step_stopping();
  } else if (phase_ == Phase::Confirming) {
    step_confirming(false);
  }
}

// Consumers first: a service of the stop set gets its stop once none alive of the set depends
// on it.
void Reloader::step_stopping() {
  if (supervisor_.shutting_down()) {
    return finish(control::kReloadRefused, {{"reason", "the runtime is shutting down"},
                                            {"diagnostics", nullptr}});
  }
  std::vector<std::string> stopping = transition_.diff.removed;
  for (const auto& name : transition_.diff.changed) stopping.push_back(name);
  bool all_ended = true;
  for (const auto& name : stopping) {
    auto status = status_of(supervisor_, name);
    if (!status || ended(status->state)) continue;
    all_ended = false;
    if (transition_.stop_asked.contains(name)) continue;
    bool needed = false;
    for (const auto& other : stopping) {
      if (other == name) continue;
      auto other_status = status_of(supervisor_, other);
      if (!other_status || ended(other_status->state)) continue;
      needed = needed || contains(supervisor_.dependencies_of(other), name);
    }
    if (needed) continue;
    transition_.stop_asked.insert(name);
    if (auto stopped = supervisor_.stop_service(name); !stopped) {
      log_warn("reload: stop failed").field("service", name).field("error", stopped.error().describe());
    }
  }
  if (all_ended) apply();
}

// Everything to stop has stopped: queues, then the new services.
void Reloader::apply() {
  const ReloadDiff& diff = transition_.diff;
  const Generation& to = transition_.rollback ? *previous_ : *target_;
  // Still empty now that its producers are stopped? Else the forward reload is refused and
  // what it stopped runs again as it was.
  for (const auto& path : diff.queues_recreated) {
    auto attributes = platform::queue_attributes(path);
    const long messages = attributes ? attributes->current_messages : 0;
    if (messages == 0) continue;
    if (!transition_.rollback) {
      for (const auto& name : transition_.stop_asked) (void)supervisor_.start_service(name);
      return finish(control::kReloadRefused,
                    {{"reason", cat("queue ", path, " holds ", messages,
                                    " messages and its attributes change: drain it first, or "
                                    "keep its max-messages and message-size")},
                     {"diagnostics", nullptr}});
    }
    transition_.failure = cat("queue ", path, " holds ", messages, " messages: kept as it is");
  }
  BootedResources& resources = *daemon_.resources_;
  for (const auto& path : diff.queues_recreated) {
    auto attributes = platform::queue_attributes(path);
    if (attributes && attributes->current_messages > 0) continue;  // the rollback's, above
    if (auto removed = platform::unlink_queue(path); removed) {
      log_info("removed queue").field("path", path).field("reason", "its attributes change");
    }
  }
  Status resources_done;
  for (const auto& queue : to.plan.queues) {
    if (!queue.create) continue;
    if (auto made = boot_queue(to.plan, queue, resources); !made && resources_done) {
      resources_done = made;
    }
  }
  const Generation& from = transition_.rollback ? *target_ : *previous_;
  for (const auto& path : diff.queues_removed) {
    const PlannedQueue* queue = queue_of(from.plan, path);
    if (queue == nullptr || !queue->remove_on_stop) continue;
    if (platform::unlink_queue(path)) log_info("removed queue").field("path", path);
    std::erase(resources.remove_on_stop_queues, path);
  }
  for (const auto& name : diff.removed) {
    if (auto removed = supervisor_.remove_service(name); !removed) {
      log_warn("reload: not removed").field("service", name).field("error", removed.error().describe());
    }
  }
  // The runtime's view of the manifest (status, queues, plug connections) from now on.
  daemon_.manifest_ = to.manifest;
  daemon_.connections_ = to.connections;
  daemon_.plan_ = to.plan;
  const std::vector<std::string> starting = started();
  if (daemon_.mediation_) daemon_.mediation_->update(to.manifest, to.plan, starting);
  FilterCache filter_cache;
  const bool mediation = mediation_support().has_value();
  for (const auto& name : starting) {
    const config::Service* service = to.manifest.find_service(name);
    const PlannedService* planned = planned_of(to.plan, name);
    Status ready;
    if (daemon_.cgroups_) ready = daemon_.cgroups_->configure(*service);
    if (ready) ready = boot_private_dir(to.plan, *planned, resources);
    if (ready && service->type == config::ServiceType::Notify && daemon_.notify_) {
      const auto& identity = to.plan.identities.account(name).identity;
      ready = daemon_.notify_->add(notify_directory(kRunDir, to.manifest.name),
                                   {name, identity.uid, identity.gid,
                                    service->confinement != config::Confinement::Off});
    }
    auto filter = filter_cache.filter_for(*service, *planned, mediation);
    if (ready && !filter) ready = std::unexpected(filter.error());
    if (!ready) {
      transition_.failure = cat(name, ": ", ready.error().describe());
      log_error("reload: not started").field("service", name).field("error", ready.error().describe());
      continue;
    }
    SupervisedService supervised = daemon_.supervised(to.manifest, to.plan, *planned, std::move(*filter));
    Status placed = contains(diff.added, name) ? supervisor_.add_service(std::move(supervised))
                                               : supervisor_.replace_service(name, std::move(supervised));
    if (!placed) transition_.failure = cat(name, ": ", placed.error().describe());
  }
  if (!resources_done) transition_.failure = resources_done.error().describe();
  current_ = to;
  phase_ = Phase::Confirming;
  // A window of 0 confirms as soon as every started service is ready, each bounded by its own
  // start-timeout-ms (a deadline of 0 would fail every service that is not ready yet, the
  // rollback's too).
  if (confirm_.count() > 0) {
    transition_.deadline = supervisor_.after(confirm_, [this] {
      transition_.deadline.reset();
      step_confirming(true);
    });
  }
  step_confirming(false);
}

std::vector<std::string> Reloader::started() const {
  std::vector<std::string> names = transition_.diff.added;
  for (const auto& name : transition_.diff.changed) names.push_back(name);
  return names;
}

// Every started service ready within the window and still up at its end (a oneshot: exited
// 0). A rollback ends as soon as all are ready again.
void Reloader::step_confirming(bool at_deadline) {
  if (phase_ != Phase::Confirming) return;
  std::string failure = transition_.failure;
  bool all_ready = true;
  for (const auto& name : started()) {
    auto status = status_of(supervisor_, name);
    const config::Service* service = current_.manifest.find_service(name);
    const bool oneshot = service != nullptr && service->type == config::ServiceType::Oneshot;
    if (!status) {
      failure = cat(name, " is not running");
      break;
    }
    const ServiceState state = status->state;
    if (oneshot && state == ServiceState::Exited) continue;
    if (state == ServiceState::Running) {
      auto [seen, first] = transition_.confirmed_pids.emplace(name, status->pid);
      if (!first && seen->second != status->pid) {
        failure = cat(name, " restarted (pid ", seen->second, " is gone)");
        break;
      }
      continue;
    }
    all_ready = false;
    if (state == ServiceState::Failed || state == ServiceState::Restarting ||
        state == ServiceState::Stopped || state == ServiceState::Exited ||
        (state == ServiceState::Waiting && transition_.confirmed_pids.contains(name))) {
      std::string how = service_state_name(state);
      if (!status->last_failure.empty()) {
        how += cat(": ", status->last_failure);
      } else if (status->last_wait_status) {
        how += cat(": ", control::describe_exit(*status->last_wait_status));
      }
      failure = cat(name, " ", how);
      break;
    }
  }
  if (failure.empty() && at_deadline && !all_ready) {
    failure = cat("not every started service was ready within ", confirm_.count(), " ms");
  }
  if (transition_.rollback) {
    if (failure.empty() && !all_ready && !at_deadline) return;
    if (transition_.deadline) supervisor_.cancel(*transition_.deadline);
    const bool restored = failure.empty() && transition_.failure.empty();
    if (!restored) log_error("rollback failed").field("reason", failure);
    return finish(control::kReloadRolledBack, {{"reason", rollback_reason_}, {"restored", restored}});
  }
  if (!failure.empty()) {
    if (transition_.deadline) supervisor_.cancel(*transition_.deadline);
    return roll_back(failure);
  }
  if (at_deadline || confirm_.count() == 0) {
    if (all_ready) return commit();
  }
}

void Reloader::commit() {
  if (transition_.deadline) supervisor_.cancel(*transition_.deadline);
  ++counts_.reloads;
  const std::string good = last_good_path(current_.manifest.name);
  if (auto written = write_atomically(good, current_.text); !written) {
    log_warn("last known good manifest not written")
        .field("path", good)
        .field("error", written.error().describe());
  } else {
    log_info("last known good").field("path", good).field("manifest", current_.path);
  }
  const ReloadDiff& diff = transition_.diff;
  finish({}, {{"started", names_json(diff.added)},
              {"stopped", names_json(diff.removed)},
              {"restarted", names_json(diff.changed)},
              {"unchanged", names_json(diff.unchanged)}});
}

void Reloader::roll_back(const std::string& reason) {
  ++counts_.rollbacks;
  rollback_reason_ = reason;
  log_error("reload not confirmed: rolling back").field("reason", reason);
  // The same rules backwards: from what runs now (the target) to the previous manifest.
  ReloadDiff diff = diff_generations(*target_, *previous_);
  begin(diff, true);
}

}  // namespace ipcrt::runtime
