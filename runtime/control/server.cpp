// The control server: sockets, connections and their bounds, dispatch with parameter and
// access checks, and operations that answer once their service has settled.
#include "runtime/control/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/users.hpp"
#include "runtime/control/socket_path.hpp"
#include "runtime/identities.hpp"
#include "runtime/logs/logs.hpp"

namespace ipcrt::runtime::control {
namespace {

constexpr std::uint32_t kClientEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// Accepts per readiness event, so a connect storm cannot keep the loop from other work.
constexpr int kAcceptsPerEvent = 16;
// After EMFILE and the like, accepting pauses this long instead of spinning on the listener.
constexpr std::chrono::milliseconds kAcceptPause{100};
// The server's own warnings (refused, evicted, malformed) at most this often, with a count of
// those held back: a hostile local client must not fill the log of a flash-backed device.
constexpr std::chrono::seconds kWarningInterval{10};
constexpr std::size_t kReadChunk = 16 * 1024;
// Calls of one client answered per turn of the loop; the rest wait for the next turn.
constexpr int kCallsPerTurn = 32;

std::string errno_name(int errnum) {
  const char* name = ::strerrorname_np(errnum);
  return name != nullptr ? name : std::to_string(errnum);
}

Status set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return fail_errno("fcntl O_NONBLOCK");
  return {};
}

std::optional<sockaddr_un> socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return std::nullopt;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

std::string parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
}

// The socket's directory exists, is a real directory (no symlink), and nobody but its owner,
// root or us, can put a file in it.
Status prepare_directory(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", directory), errno,
                      "the runtime needs to write /run (run as root)");
  }
  struct stat info {};
  if (::lstat(directory.c_str(), &info) != 0) return fail_errno(cat("lstat ", directory));
  if (!S_ISDIR(info.st_mode)) {
    return fail(cat(directory, " is not a directory"), cat("remove it: rm ", directory));
  }
  if ((info.st_uid != 0 && info.st_uid != ::geteuid()) || (info.st_mode & 022) != 0) {
    return fail(cat(directory, " is writable by others or owned by uid ", info.st_uid),
                cat("another user could replace the socket: chown root ", directory,
                    " && chmod 0755 ", directory));
  }
  return {};
}

// A socket file left by a runtime that was killed is removed; a live one is another
// runtime's, and anything else is not ours to remove.
Status clear_stale_socket(const std::string& path, const sockaddr_un& address) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(cat("lstat ", path));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return fail(cat(path, " exists and is not a socket"), cat("remove it: rm ", path));
  }
  platform::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (probe.valid() &&
      ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    return fail(cat(path, " is served by another runtime"),
                "a manifest of this name is already running: stop it first (ipcrt shutdown "
                "--manifest NAME)");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("unlink ", path));
  return {};
}

Result<std::optional<gid_t>> resolve_control_group(const config::Manifest& manifest) {
  const auto& group = manifest.control.group;
  if (!group) return std::optional<gid_t>();
  if (auto number = platform::parse_id(*group)) return std::optional<gid_t>(*number);
  auto users = platform::UserDatabase::load(AccountSources{}.account_dirs);
  if (!users) return std::unexpected(users.error());
  const platform::GroupEntry* entry = users->find_group(*group);
  if (entry == nullptr) {
    return fail(cat("control group \"", *group, "\" is not in /etc/group"),
                "create it (groupadd) or name an existing group in /control/group");
  }
  return std::optional<gid_t>(entry->gid);
}

}  // namespace

// An awaited start, stop or restart.
struct ControlServer::PendingOperation {
  ServiceOperation operation = ServiceOperation::Start;
  std::string service;
  pid_t previous_pid = 0;
  Supervisor::TimerId deadline = 0;
};

// A GetLogs call with follow: it has been sent every line before `cursor`.
struct LogFollow {
  Logs::FollowId id = 0;
  std::optional<std::string> service;
  std::uint64_t cursor = 0;
  bool scheduled = false;  // a pump_follow is due on the next turn of the loop
};

struct ControlServer::Client {
  std::uint64_t id = 0;
  platform::UniqueFd fd;
  std::optional<Supervisor::WatchId> watch;
  AccessLevel level = AccessLevel::None;
  std::optional<SocketPeer> peer;  // a socket client; none for a plug connection
  std::string plug;                // "uploader:control" for a plug connection
  std::string origin;              // for the log: "uid 1000 pid 4242"
  MessageFramer input;
  std::string output;             // replies not yet written
  bool input_closed = false;      // the peer shut down its side
  bool closing = false;           // no more calls: close once the output is written
  bool broken = false;            // writing failed or it would not read: close now
  bool resume_scheduled = false;  // held calls are answered on a later turn
  std::optional<PendingOperation> pending;
  std::optional<LogFollow> follow;  // the connection's last call: it streams until closed
  bool deferred = false;  // a call answered later (Reload): the next ones wait
  Supervisor::Clock::time_point last_active{};    // last call answered, or the connect
  Supervisor::Clock::time_point last_progress{};  // last byte of output written
  std::optional<Supervisor::TimerId> timer;       // idle or stalled-output deadline

  [[nodiscard]] bool busy() const {
    return pending.has_value() || deferred || follow.has_value() || !output.empty() ||
           resume_scheduled;
  }
};

// Answers one call of one client; drops everything for a oneway call.
class ControlServer::CallExchange final : public Exchange {
 public:
  CallExchange(ControlServer& server, Client& client, const Call& call)
      : server_(server), client_(client), call_(call) {}
  const Call& call() const override { return call_; }
  void reply(Json parameters) override {
    if (!call_.oneway) server_.send(client_, encode_reply(parameters));
  }
  void error(std::string_view name, Json parameters) override {
    if (!call_.oneway) server_.send(client_, encode_error(name, parameters));
  }
  void stream(Json parameters) override {
    if (!call_.oneway) server_.send(client_, encode_reply(parameters, true));
  }
  void follow_logs(std::optional<std::string> service, std::uint64_t cursor) override {
    if (!call_.oneway) server_.start_follow(client_, std::move(service), cursor);
  }
  void await(ServiceOperation operation, std::string service, pid_t previous_pid) override {
    if (call_.oneway) return;
    PendingOperation pending{operation, std::move(service), previous_pid, 0};
    const std::uint64_t id = client_.id;
    pending.deadline = server_.supervisor_->after(
        server_.options_.operation_timeout, [this_server = &server_, id] {
          auto found = this_server->clients_.find(id);
          if (found != this_server->clients_.end() && found->second->pending) {
            this_server->finish_operation(*found->second, true);
          }
        });
    client_.pending = std::move(pending);
    server_.service_changed();  // it may have settled already (stopping a stopped service)
  }
  DeferredReply defer() override {
    client_.deferred = true;
    return [server = &server_, alive = server_.alive_, id = client_.id, oneway = call_.oneway](
               std::string_view error, Json parameters) {
      if (!*alive) return;
      server->finish_deferred(id, oneway, error, std::move(parameters));
    };
  }

 private:
  ControlServer& server_;
  Client& client_;
  const Call& call_;
};

ControlServer::ControlServer(ControlContext context, ControlOptions options)
    : context_(std::move(context)), options_(std::move(options)) {
  // The IDL is parsed by the first call that needs it. That it agrees with the method table
  // is a fact of the build, which a unit test checks; checked here, it was a tenth of what a
  // one-service `run` does before its launch (docs/decisions.md, "Control interface").
  socket_path_ = options_.socket_path.empty() ? control_socket_path(context_.manifest->name)
                                              : options_.socket_path;
}

ControlServer::~ControlServer() {
  *alive_ = false;  // deferred replies still held elsewhere are dropped
  std::vector<std::uint64_t> ids;
  for (const auto& [id, client] : clients_) ids.push_back(id);
  destroying_ = true;  // no more turns of the loop for us
  // The runtime ends: a follower gets the lines of the last turn and a last reply, without
  // continues, so it can tell this end from being dropped. Best effort: nothing waits.
  for (auto id : ids) {
    Client& client = *clients_.at(id);
    if (!client.follow || client.broken || supervisor_ == nullptr) continue;
    pump_follow(client);
    send(client, encode_reply({{"entries", Json::array()}, {"missed", false}}));
  }
  for (auto id : ids) close_client(id);
  if (listener_watch_ && supervisor_ != nullptr) supervisor_->unwatch(*listener_watch_);
  if (listener_.valid()) {
    struct stat info {};
    // Only the socket we bound: a later runtime of the same name may have replaced it.
    if (::lstat(socket_path_.c_str(), &info) == 0 && info.st_dev == socket_device_ &&
        info.st_ino == socket_inode_) {
      ::unlink(socket_path_.c_str());
    }
  }
}

Status ControlServer::listen() {
  auto group = resolve_control_group(*context_.manifest);
  if (!group) {
    // Fails closed: the socket is root's alone until the group is fixed.
    log_warn("control group unknown: the socket is root's alone")
        .field("error", group.error().describe());
  } else {
    control_group_ = *group;
  }
  auto address = socket_address(socket_path_);
  if (!address) return fail(cat("control socket path too long: ", socket_path_));
  if (auto directory = prepare_directory(parent_directory(socket_path_)); !directory) {
    return directory;
  }
  if (auto cleared = clear_stale_socket(socket_path_, *address); !cleared) return cleared;
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return fail_errno("socket AF_UNIX");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    return fail_errno(cat("bind ", socket_path_));
  }
  // Mode and group are set before listen(): until then a connect is refused, so nobody gets
  // in through the umask's mode.
  const mode_t mode = control_group_ ? 0660 : 0600;
  const gid_t gid = control_group_ ? *control_group_ : ::getegid();
  if (::chmod(socket_path_.c_str(), mode) != 0 ||
      ::chown(socket_path_.c_str(), ::geteuid(), gid) != 0) {
    const int saved = errno;
    ::unlink(socket_path_.c_str());
    return fail_errno(cat("chmod/chown ", socket_path_), saved,
                      "setting the socket's group needs root (or membership of the group)");
  }
  struct stat info {};
  if (::lstat(socket_path_.c_str(), &info) != 0 ||
      ::listen(fd.get(), static_cast<int>(options_.limits.clients)) != 0) {
    const int saved = errno;
    ::unlink(socket_path_.c_str());
    return fail_errno(cat("listen ", socket_path_), saved);
  }
  socket_device_ = info.st_dev;
  socket_inode_ = info.st_ino;
  listener_ = std::move(fd);
  {
    auto line = log_info("control socket");
    line.field("path", socket_path_);
    line.field("mode", mode == 0660 ? "0660" : "0600");
    if (control_group_) line.field("group", *control_group_);
  }
  return {};
}

Status ControlServer::attach(Supervisor& supervisor) {
  supervisor_ = &supervisor;
  if (!listener_.valid()) return {};
  auto watched = supervisor.watch(listener_.get(), EPOLLIN,
                                  [this](std::uint32_t, Supervisor::WatchId) { accept_clients(); });
  if (!watched) return std::unexpected(watched.error());
  listener_watch_ = *watched;
  return {};
}

RuntimeView ControlServer::view() {
  counters_.clients = clients_.size();
  return RuntimeView{context_, *supervisor_, census_, counters_, started_, started_wall_};
}

// ---- connections

void ControlServer::accept_clients() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    platform::UniqueFd fd(
        ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.valid()) {
      accept_client(std::move(fd));
      continue;
    }
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      pause_accepting();
      return;
    }
    log_warn("control accept failed").field("errno", errno_name(errno));
    return;
  }
}

void ControlServer::pause_accepting() {
  if (!listener_watch_) return;
  supervisor_->unwatch(*listener_watch_);
  listener_watch_.reset();
  log_warn("control socket paused")
      .field("reason", "out of descriptors or memory")
      .field("retry-ms", kAcceptPause.count());
  supervisor_->after(kAcceptPause, [this] {
    auto watched = supervisor_->watch(
        listener_.get(), EPOLLIN, [this](std::uint32_t, Supervisor::WatchId) { accept_clients(); });
    if (watched) listener_watch_ = *watched;
  });
}

std::vector<OpenClient> ControlServer::open_socket_clients() const {
  std::vector<OpenClient> open;
  for (const auto& [id, client] : clients_) {
    if (!client->peer) continue;
    open.push_back({id, client->peer->uid, client->level == AccessLevel::Root, client->busy(),
                    client->last_active});
  }
  return open;
}

void ControlServer::accept_client(platform::UniqueFd fd) {
  auto peer = read_socket_peer(fd.get());
  if (!peer) {
    ++counters_.refused;
    if (auto suppressed = warning_allowed()) {
      log_warn("control client refused")
          .field("error", peer.error().describe())
          .field("suppressed", *suppressed);
    }
    return;
  }
  const AccessLevel level = socket_peer_access(*peer, control_group_);
  const auto admission =
      control::admit(open_socket_clients(), peer->uid, level == AccessLevel::Root, options_.limits);
  const std::string origin = cat("uid ", peer->uid, " pid ", peer->pid);
  if (!admission.admitted) {
    ++counters_.refused;
    // Closed without a reply: varlink has no greeting to refuse with. The client sees the
    // connection end before its first reply.
    if (auto suppressed = warning_allowed()) {
      log_warn("control client refused")
          .field("client", origin)
          .field("reason", "every slot is taken by a client with a call in progress")
          .field("suppressed", *suppressed);
    }
    return;
  }
  if (admission.evict) {
    ++counters_.evicted;
    close_client(*admission.evict);
  }
  Client& client = add_client(std::move(fd), level, origin, std::move(*peer), "");
  reap(client.id);
}

std::optional<std::uint64_t> ControlServer::warning_allowed() {
  const auto now = supervisor_->now();
  if (now < next_warning_) {
    ++warnings_suppressed_;
    return std::nullopt;
  }
  next_warning_ = now + kWarningInterval;
  return std::exchange(warnings_suppressed_, 0);
}

ControlServer::Client& ControlServer::add_client(platform::UniqueFd fd, AccessLevel level,
                                                 std::string origin, std::optional<SocketPeer> peer,
                                                 std::string plug) {
  auto client = std::make_unique<Client>();
  client->id = next_client_++;
  client->fd = std::move(fd);
  client->level = level;
  client->origin = std::move(origin);
  client->peer = std::move(peer);
  client->plug = std::move(plug);
  client->last_active = supervisor_->now();
  client->last_progress = client->last_active;
  const std::uint64_t id = client->id;
  auto watched = supervisor_->watch(
      client->fd.get(), kClientEvents,
      [this, id](std::uint32_t events, Supervisor::WatchId) { on_client_event(id, events); });
  if (watched) client->watch = *watched;
  Client& added = *client;
  clients_.emplace(id, std::move(client));
  if (!watched) {
    log_warn("control client dropped").field("error", watched.error().describe());
    added.broken = true;  // reaped by the caller's next look at it, never watched
  }
  rearm_timer(added);
  return added;
}

platform::UniqueFd ControlServer::connect_plug(LaunchSpec& spec) {
  spec.control_fd = -1;
  const std::string variable = cat(kControlFdVariable, '=');
  std::erase_if(spec.environment,
                [&](const std::string& entry) { return entry.starts_with(variable); });
  const config::Service* service = context_.manifest->find_service(spec.service);
  if (service == nullptr || !service->control_plug || supervisor_ == nullptr) {
    return {};
  }
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    log_error("control plug not connected")
        .field("service", spec.service)
        .field("errno", errno_name(errno))
        .field("hint", "the service starts without IPCRT_CONTROL_FD");
    return {};
  }
  platform::UniqueFd ours(ends[0]);
  platform::UniqueFd theirs(ends[1]);
  if (auto nonblocking = set_nonblocking(ours.get()); !nonblocking) {
    log_error("control plug not connected")
        .field("service", spec.service)
        .field("error", nonblocking.error().describe());
    return {};
  }
  const auto level = service->control_plug->access == config::ControlAccess::Manage
                         ? AccessLevel::Manage
                         : AccessLevel::Observe;
  const std::string plug = cat(service->name, ':', service->control_plug->name);
  Client& client = add_client(std::move(ours), level, cat("plug ", plug), std::nullopt, plug);
  if (reap(client.id)) return {};
  // Above the descriptors of pass-queues, which the child puts at 3… (SPEC §11).
  if (theirs.get() < descriptor_floor(spec)) {
    const int moved = ::fcntl(theirs.get(), F_DUPFD_CLOEXEC, descriptor_floor(spec));
    if (moved < 0) {
      log_error("control plug not connected")
          .field("service", spec.service)
          .field("errno", errno_name(errno))
          .field("hint", "the service starts without IPCRT_CONTROL_FD");
      close_client(client.id);
      return {};
    }
    theirs.reset(moved);
  }
  spec.control_fd = theirs.get();
  spec.environment.push_back(cat(variable, theirs.get()));
  return theirs;
}

void ControlServer::close_client(std::uint64_t id) {
  auto found = clients_.find(id);
  if (found == clients_.end()) return;
  Client& client = *found->second;
  if (supervisor_ != nullptr) {
    if (client.watch) supervisor_->unwatch(*client.watch);
    if (client.timer) supervisor_->cancel(*client.timer);
    if (client.pending) supervisor_->cancel(client.pending->deadline);
  }
  if (client.follow && context_.logs != nullptr) context_.logs->unfollow(client.follow->id);
  clients_.erase(found);
}

void ControlServer::on_client_event(std::uint64_t id, std::uint32_t events) {
  auto found = clients_.find(id);
  if (found == clients_.end()) return;
  Client& client = *found->second;
  if ((events & EPOLLERR) != 0) client.broken = true;
  if ((events & EPOLLOUT) != 0 && !client.broken) flush(client);
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0 && !client.broken && !client.closing) {
    read_input(client);
  }
  // A peer that hung up entirely cannot read what is left.
  if ((events & EPOLLHUP) != 0) client.broken = true;
  if (!reap(id)) rearm_timer(client);
}

bool ControlServer::reap(std::uint64_t id) {
  auto found = clients_.find(id);
  if (found == clients_.end()) return true;
  const Client& client = *found->second;
  // A peer that shut down its side and has nothing in progress: what it left unfinished
  // can never complete.
  const bool done = client.broken || (client.closing && client.output.empty()) ||
                    (client.input_closed && !client.busy());
  if (done) close_client(id);
  return done;
}

void ControlServer::read_input(Client& client) {
  char buffer[kReadChunk];
  for (;;) {
    const ssize_t count = ::recv(client.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (count > 0) {
      if (!client.input.append(std::string_view(buffer, static_cast<std::size_t>(count)))) {
        protocol_violation(client, cat("the request is larger than ", kMaxRequestBytes,
                                       " bytes (a Reload carries a path, not a manifest)"));
        return;
      }
      process_input(client);
      if (client.broken || client.closing) return;
      continue;
    }
    if (count == 0) {
      client.input_closed = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) client.broken = true;
    return;
  }
}

// Clients are never closed in here, only marked: the caller reaps them.
void ControlServer::process_input(Client& client) {
  // A call in progress or answered later holds the rest; a follow is the connection's last call.
  for (int handled = 0; !client.closing && !client.broken && !client.pending && !client.deferred &&
                        !client.follow;
       ++handled) {
    if (handled == kCallsPerTurn) {
      resume_later(client);
      return;
    }
    auto message = client.input.next();
    if (!message) return;
    handle_message(client, *message);
  }
}

// The rest of a pipelined batch is answered on a later turn of the loop, so one client's 64 KiB
// of calls cannot hold up the services' mediated calls or the other clients.
void ControlServer::resume_later(Client& client) {
  if (client.resume_scheduled) return;
  client.resume_scheduled = true;
  const std::uint64_t id = client.id;
  supervisor_->after(std::chrono::milliseconds(0), [this, id] {
    auto found = clients_.find(id);
    if (found == clients_.end()) return;
    found->second->resume_scheduled = false;
    process_input(*found->second);
    if (!reap(id)) rearm_timer(*found->second);
  });
}

void ControlServer::protocol_violation(Client& client, const std::string& reason) {
  if (auto suppressed = warning_allowed()) {
    log_warn("control client sent a malformed request")
        .field("client", client.origin)
        .field("reason", reason)
        .field("suppressed", *suppressed);
  }
  client.closing = true;
  client.input = MessageFramer();
  send(client, encode_error(kInvalidRequest, {{"reason", reason}}));
}

// ---- calls

void ControlServer::handle_message(Client& client, const std::string& message) {
  auto call = parse_call(message);
  if (!call) {
    protocol_violation(client, call.error());
    return;
  }
  client.last_active = supervisor_->now();
  CallExchange exchange(*this, client, *call);
  if (call->upgrade) {
    exchange.error(kInvalidParameter, {{"parameter", "upgrade"}});
    return;
  }
  const idl::Interface* interface = served_interface(call->interface);
  if (interface == nullptr) {
    exchange.error(kInterfaceNotFound, {{"interface", call->interface}});
    return;
  }
  const idl::Method* signature = interface->find_method(call->member);
  const MethodSpec* method = find_method(call->interface, call->member);
  if (signature == nullptr || method == nullptr) {
    exchange.error(kMethodNotFound, {{"method", call->method}});
    return;
  }
  if (auto mismatch = idl::check_value(*interface, signature->input, call->parameters)) {
    // The parameter's name, as varlink's InvalidParameter has it: the pointer's first part.
    std::string parameter = "parameters";
    if (mismatch->path.size() > 1) {
      parameter = mismatch->path.substr(1, mismatch->path.find('/', 1) - 1);
    }
    exchange.error(kInvalidParameter, {{"parameter", parameter}});
    return;
  }
  if (client.level < method->need) {
    exchange.error(kPermissionDenied, {{"method", call->method},
                                       {"need", access_level_name(method->need)},
                                       {"reason", denial_reason(client, method->need)}});
    return;
  }
  RuntimeView runtime = view();
  method->handle(runtime, exchange);
}

std::string ControlServer::denial_reason(const Client& client, AccessLevel need) const {
  if (client.peer) {
    if (client.level == AccessLevel::Observe && need == AccessLevel::Manage) {
      return cat("uid ", client.peer->uid,
                 " may only read, as a member of the control group: run it as root");
    }
    return access_explanation(*client.peer, client.level, control_group_);
  }
  if (need == AccessLevel::Root) {
    return cat("the plug ", client.plug,
               " cannot shut down or reload the runtime: that is for the host's root only");
  }
  return cat("the plug ", client.plug, " has access \"", access_level_name(client.level),
             "\": set \"access\": \"manage\" on it in the manifest to start, stop and restart "
             "services");
}

void ControlServer::service_changed() {
  if (settle_scheduled_ || supervisor_ == nullptr) return;
  settle_scheduled_ = true;
  // From the loop, not from inside the supervisor's state change that called us.
  supervisor_->after(std::chrono::milliseconds(0), [this] {
    settle_scheduled_ = false;
    settle_operations();
  });
}

void ControlServer::settle_operations() {
  std::vector<std::uint64_t> waiting;
  for (const auto& [id, client] : clients_) {
    if (client->pending) waiting.push_back(id);
  }
  for (auto id : waiting) {
    auto found = clients_.find(id);
    if (found == clients_.end() || !found->second->pending) continue;
    Client& client = *found->second;
    RuntimeView runtime = view();
    const auto status = find_status(runtime, client.pending->service);
    if (status && !settle(client.pending->operation, *status, client.pending->previous_pid).done) {
      continue;
    }
    finish_operation(client, false);
  }
}

void ControlServer::finish_deferred(std::uint64_t id, bool oneway, std::string_view error,
                                    Json parameters) {
  auto found = clients_.find(id);
  if (found == clients_.end()) return;
  Client& client = *found->second;
  client.deferred = false;
  if (!oneway) {
    send(client, error.empty() ? encode_reply(parameters) : encode_error(error, parameters));
  }
  client.last_active = supervisor_->now();
  process_input(client);
  if (!reap(client.id)) rearm_timer(client);
}

void ControlServer::finish_operation(Client& client, bool timed_out) {
  PendingOperation pending = std::move(*client.pending);
  client.pending.reset();
  supervisor_->cancel(pending.deadline);
  RuntimeView runtime = view();
  const auto status = find_status(runtime, pending.service);
  if (!status) {
    send(client, encode_error(kNoSuchService, no_such_service(runtime, pending.service)));
  } else {
    const Settlement outcome = settle(pending.operation, *status, pending.previous_pid);
    Json service = service_json(runtime, *status);
    if (outcome.done && outcome.succeeded) {
      send(client, encode_reply({{"service", std::move(service)}}));
    } else {
      const std::string reason = timed_out
                                     ? cat("still ", service_state_name(status->state), " after ",
                                           options_.operation_timeout.count() / 1000,
                                           " s; the runtime goes on with it (see ipcrt status)")
                                     : outcome.reason;
      send(client, encode_error(kOperationFailed, {{"service", pending.service},
                                                   {"reason", reason},
                                                   {"status", std::move(service)}}));
    }
  }
  client.last_active = supervisor_->now();
  // Calls that arrived meanwhile were held: answer them now.
  process_input(client);
  if (!reap(client.id)) rearm_timer(client);
}

// ---- output and timers

void ControlServer::send(Client& client, std::string message) {
  if (client.broken) return;
  if (client.output.size() > kMaxQueuedReplyBytes) {
    if (auto suppressed = warning_allowed()) {
      log_warn("control client dropped")
          .field("client", client.origin)
          .field("reason", cat("it did not read ", client.output.size(), " bytes of replies"))
          .field("suppressed", *suppressed);
    }
    client.broken = true;
    client.output.clear();
    return;
  }
  if (client.output.empty()) client.last_progress = supervisor_->now();
  client.output += message;
  flush(client);
}

// Like process_input, marks a client it cannot write to instead of closing it.
void ControlServer::flush(Client& client) {
  while (!client.output.empty()) {
    const ssize_t sent = ::send(client.fd.get(), client.output.data(), client.output.size(),
                                MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
      client.output.erase(0, static_cast<std::size_t>(sent));
      client.last_progress = supervisor_->now();
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // EPOLLOUT comes
    client.broken = true;
    client.output.clear();
    return;
  }
  // A follower that has read enough of what waited gets what the ring has for it.
  if (client.follow && client.output.size() < kFollowLowWater) schedule_follow(client.id);
}

// ---- logs -f

void ControlServer::start_follow(Client& client, std::optional<std::string> service,
                                 std::uint64_t cursor) {
  if (context_.logs == nullptr) return;
  const std::uint64_t id = client.id;
  // Called from the log subsystem for every line: only noted, and sent from the next turn of
  // the loop in batches, so a line logged while the server itself logs cannot recurse.
  auto followed =
      context_.logs->follow(service, [this, id](const LogRecord&) { schedule_follow(id); });
  if (!followed) {
    send(client, encode_error(kNoSuchService, {{"service", service.value_or("")},
                                               {"services", context_.logs->ring().names()}}));
    return;
  }
  client.follow = LogFollow{*followed, std::move(service), cursor, false};
}

void ControlServer::schedule_follow(std::uint64_t id) {
  auto found = clients_.find(id);
  if (found == clients_.end() || supervisor_ == nullptr || destroying_) return;
  Client& client = *found->second;
  if (!client.follow || client.follow->scheduled || client.output.size() >= kFollowLowWater ||
      context_.logs == nullptr || client.follow->cursor >= context_.logs->next_seq()) {
    return;
  }
  client.follow->scheduled = true;
  supervisor_->after(std::chrono::milliseconds(0), [this, id] {
    auto again = clients_.find(id);
    if (again == clients_.end() || !again->second->follow) return;
    again->second->follow->scheduled = false;
    pump_follow(*again->second);
    if (!reap(id)) rearm_timer(*again->second);
  });
}

void ControlServer::pump_follow(Client& client) {
  if (!client.follow || context_.logs == nullptr) return;
  LogFollow& follow = *client.follow;
  while (!client.broken && client.output.size() < kFollowHighWater) {
    auto page = context_.logs->read(follow.cursor, kLogBatch, follow.service);
    if (!page) return;
    if (page->records.empty()) {
      follow.cursor = page->next;
      if (!page->missed) return;
    }
    // A batch of about the low-water mark, at least one line, whatever the lines' length.
    Json entries = Json::array();
    std::size_t bytes = 0;
    std::size_t taken = 0;
    for (const auto& record : page->records) {
      if (taken > 0 && bytes + record.line.size() > kFollowLowWater) break;
      bytes += record.line.size();
      entries.push_back(log_entry_json(record));
      ++taken;
    }
    const bool whole = taken == page->records.size();
    if (taken > 0) follow.cursor = whole ? page->next : page->records[taken - 1].seq + 1;
    send(client, encode_reply({{"entries", std::move(entries)}, {"missed", page->missed}}, true));
    if (whole && page->records.size() < kLogBatch) return;
  }
}

void ControlServer::rearm_timer(Client& client) {
  if (client.timer) supervisor_->cancel(*client.timer);
  client.timer.reset();
  Supervisor::Clock::time_point deadline;
  if (!client.output.empty()) {
    deadline = client.last_progress + options_.idle_timeout;  // a client that does not read
  } else if (client.pending || client.deferred || client.follow || !client.peer) {
    // The operation has its own deadline; a follower waits for lines; a plug's connection
    // is never idle-closed.
    return;
  } else {
    deadline = client.last_active + options_.idle_timeout;
  }
  const std::uint64_t id = client.id;
  client.timer = supervisor_->at(deadline, [this, id] { on_client_timer(id); });
}

void ControlServer::on_client_timer(std::uint64_t id) {
  auto found = clients_.find(id);
  if (found == clients_.end()) return;
  Client& client = *found->second;
  client.timer.reset();
  const auto now = supervisor_->now();
  const bool stalled =
      !client.output.empty() && now >= client.last_progress + options_.idle_timeout;
  const bool idle =
      client.peer && !client.busy() && now >= client.last_active + options_.idle_timeout;
  if (stalled && client.follow) ++counters_.followers_dropped;
  if (stalled) {
    if (auto suppressed = warning_allowed()) {
      log_warn("control client dropped")
          .field("client", client.origin)
          .field("reason", client.follow
                               ? cat("a `logs -f` reader that read none of its lines for ",
                                     options_.idle_timeout.count(), " ms")
                               : cat("it read none of its replies for ",
                                     options_.idle_timeout.count(), " ms"))
          .field("suppressed", *suppressed);
    }
  }
  if (stalled || idle) {
    close_client(id);
    return;
  }
  rearm_timer(client);
}

}  // namespace ipcrt::runtime::control
