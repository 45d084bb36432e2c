// The control socket's server (SPEC §10), run by the supervisor's loop: a non-blocking
// listening socket and clients, every one of them bounded. A request is at most 64 KiB; at
// most 16 clients connect (4 per non-root uid, one slot kept for root; the longest-idle one is
// closed to make room); replies a client does not read are held up to 1 MiB, then it is
// disconnected, never waited for; an idle client (no call in progress, nothing queued) is
// closed after the idle timeout; a malformed message gets InvalidRequest and the connection is
// closed. Services with an ipcrt-control plug get a connection of their own, made by the
// runtime at each start (a socketpair: one end here, the other in IPCRT_CONTROL_FD).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "platform/fd.hpp"
#include "runtime/control/admission.hpp"
#include "runtime/control/methods.hpp"
#include "runtime/control/options.hpp"
#include "runtime/control/queue_census.hpp"
#include "runtime/launch.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime::control {

inline constexpr std::size_t kMaxQueuedReplyBytes = 1024 * 1024;
// A `logs -f` reader is sent new lines while less than this waits for it; past it they wait in
// the ring (a cursor), so a reader that does not keep up costs at most this, and once it has
// read below kFollowLowWater it is sent what the ring still holds (`missed` if lines were
// dropped meanwhile). One that reads nothing for the idle timeout is disconnected.
inline constexpr std::size_t kFollowHighWater = 64 * 1024;
inline constexpr std::size_t kFollowLowWater = 16 * 1024;
inline constexpr const char* kControlFdVariable = "IPCRT_CONTROL_FD";

class ControlServer {
 public:
  ControlServer(ControlContext context, ControlOptions options);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // Closes every connection and removes the socket if it is still ours.
  ~ControlServer();

  // Creates /run/ipcrt (0755) and the socket: 0660 with the manifest's control group, else
  // 0600, root's. Without it the plug connections still work.
  [[nodiscard]] Status listen();
  // Serves from `supervisor`'s loop; call before its run().
  [[nodiscard]] Status attach(Supervisor& supervisor);

  // SupervisorOptions::before_launch: for a service with an ipcrt-control plug, a new
  // connection whose other end goes to the child (spec.control_fd, IPCRT_CONTROL_FD).
  [[nodiscard]] platform::UniqueFd connect_plug(LaunchSpec& spec);
  // SupervisorOptions::on_state_change: awaited operations are looked at again.
  void service_changed();

  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

 private:
  struct Client;
  struct PendingOperation;
  class CallExchange;

  void accept_clients();
  void pause_accepting();
  void accept_client(platform::UniqueFd fd);
  Client& add_client(platform::UniqueFd fd, AccessLevel level, std::string origin,
                     std::optional<SocketPeer> peer, std::string plug);
  void on_client_event(std::uint64_t id, std::uint32_t events);
  void read_input(Client& client);
  void process_input(Client& client);
  void resume_later(Client& client);
  void handle_message(Client& client, const std::string& message);
  void protocol_violation(Client& client, const std::string& reason);
  void send(Client& client, std::string message);
  void flush(Client& client);
  void rearm_timer(Client& client);
  void on_client_timer(std::uint64_t id);
  void close_client(std::uint64_t id);
  // Closes `id` if it is broken or has nothing more to do; true if it did.
  bool reap(std::uint64_t id);
  void settle_operations();
  void start_follow(Client& client, std::optional<std::string> service, std::uint64_t cursor);
  void schedule_follow(std::uint64_t id);
  // Sends what was logged since the client's cursor, up to kFollowHighWater queued.
  void pump_follow(Client& client);
  void finish_operation(Client& client, bool timed_out);
  void finish_deferred(std::uint64_t id, bool oneway, std::string_view error, Json parameters);
  [[nodiscard]] std::vector<OpenClient> open_socket_clients() const;
  [[nodiscard]] std::string denial_reason(const Client& client, AccessLevel need) const;
  // The server's warnings (refused, dropped, malformed) at most once per interval: nullopt
  // when this one is held back, else how many were since the last.
  [[nodiscard]] std::optional<std::uint64_t> warning_allowed();
  [[nodiscard]] RuntimeView view();

  ControlContext context_;
  ControlOptions options_;
  std::string socket_path_;
  std::optional<gid_t> control_group_;
  platform::UniqueFd listener_;
  dev_t socket_device_ = 0;  // of the socket file we bound, to remove only ours
  ino_t socket_inode_ = 0;
  Supervisor* supervisor_ = nullptr;
  std::optional<Supervisor::WatchId> listener_watch_;
  QueueCensus census_;
  ControlCounters counters_;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::uint64_t next_client_ = 1;
  bool settle_scheduled_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();
  Supervisor::Clock::time_point next_warning_{};
  std::uint64_t warnings_suppressed_ = 0;
  bool destroying_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ipcrt::runtime::control
