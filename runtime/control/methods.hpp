// The methods of io.ipcrt.Runtime and org.varlink.service: what each needs (AccessLevel) and
// does, and the replies built from the supervisor's state, the plan and the kernel. The server
// (server.hpp) frames, checks parameters against the IDL and access against `need`, then
// calls the handler with an Exchange to answer through.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "runtime/control/access.hpp"
#include "runtime/control/json.hpp"
#include "runtime/control/queue_census.hpp"
#include "runtime/control/varlink_idl.hpp"
#include "runtime/control/varlink_protocol.hpp"
#include "runtime/cgroups/service_cgroups.hpp"
#include "runtime/logs/log_ring.hpp"
#include "runtime/plan.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {
class Logs;
}

namespace ipcrt::runtime::control {

inline constexpr const char* kRuntimeInterface = "io.ipcrt.Runtime";
inline constexpr const char* kNoSuchService = "io.ipcrt.Runtime.NoSuchService";
inline constexpr const char* kPermissionDenied = "io.ipcrt.Runtime.PermissionDenied";
inline constexpr const char* kInvalidManifest = "io.ipcrt.Runtime.InvalidManifest";
inline constexpr const char* kReloadRefused = "io.ipcrt.Runtime.ReloadRefused";
inline constexpr const char* kReloadRolledBack = "io.ipcrt.Runtime.ReloadRolledBack";
inline constexpr const char* kOperationFailed = "io.ipcrt.Runtime.OperationFailed";
inline constexpr const char* kInvalidRequest = "io.ipcrt.Runtime.InvalidRequest";

// A reply given later from the loop (`error` empty: a reply); dropped if the client has gone.
using DeferredReply = std::function<void(std::string_view error, Json parameters)>;

// Reload (SPEC §12): the path (empty: the runtime's own manifest), the confirm window, and how
// to answer once the reload has ended.
using ReloadHandler = std::function<void(std::string path, std::chrono::milliseconds confirm,
                                         DeferredReply reply)>;
struct ReloadCounts {
  std::uint64_t reloads = 0;    // applied and confirmed
  std::uint64_t rollbacks = 0;  // applied, not confirmed, rolled back
};

// What the control interface reads: one running manifest. Everything outlives the server.
struct ControlContext {
  const config::Manifest* manifest = nullptr;
  const Plan* plan = nullptr;  // its identities say who each service runs as
  std::string manifest_path;  // absolute
  bool mediation = false;     // name-level mediation runs (SPEC §6)
  const ServiceCgroups* cgroups = nullptr;  // SPEC §13; nullptr without cgroup v2
  Logs* logs = nullptr;  // what GetLogs reads (SPEC §14); none: it has no lines
  ReloadHandler reload{};                   // none: Reload is refused
  const ReloadCounts* reload_counts = nullptr;
};

// GetLogs replies carry at most this many entries each (with more, or following).
inline constexpr std::size_t kLogBatch = 128;

// Connection counts for GetMetrics.
struct ControlCounters {
  std::uint64_t clients = 0;  // open now, plug connections included
  std::uint64_t refused = 0;
  std::uint64_t evicted = 0;
  std::uint64_t followers_dropped = 0;  // `logs -f` readers closed for not reading
};

// Everything a handler may look at or act on.
struct RuntimeView {
  const ControlContext& context;
  Supervisor& supervisor;
  const QueueCensus& census;
  const ControlCounters& counters;
  std::chrono::steady_clock::time_point started;
  std::chrono::system_clock::time_point started_wall;
};

enum class ServiceOperation { Start, Stop, Restart };

// How a handler answers its call. A oneway call's answers are dropped by the Exchange.
class Exchange {
 public:
  virtual ~Exchange() = default;
  [[nodiscard]] virtual const Call& call() const = 0;
  virtual void reply(Json parameters) = 0;
  virtual void error(std::string_view name, Json parameters) = 0;
  // One reply of several (`continues`), for a call made with more.
  virtual void stream(Json parameters) = 0;
  // After the replies so far: every line logged from `cursor` on (of `service`, or all) is
  // sent as it comes, until the client hangs up. The call never ends by itself.
  virtual void follow_logs(std::optional<std::string> service, std::uint64_t cursor) = 0;
  // Answers later, once `service` has settled after `operation` (settle() below), or when the
  // operation times out. `previous_pid` is the process that must be replaced (0: any will do).
  virtual void await(ServiceOperation operation, std::string service, pid_t previous_pid) = 0;
  // Answers later through what it returns; the client's next calls wait until then.
  [[nodiscard]] virtual DeferredReply defer() = 0;
};

struct MethodSpec {
  std::string_view interface;
  std::string_view name;
  AccessLevel need;
  void (*handle)(RuntimeView& view, Exchange& exchange);
};

// Every method served, in the IDL's order.
[[nodiscard]] std::span<const MethodSpec> method_table();
[[nodiscard]] const MethodSpec* find_method(std::string_view interface, std::string_view name);

// The parsed IDL of an interface served here, or nullptr.
[[nodiscard]] const idl::Interface* served_interface(std::string_view name);
// Both IDLs parse and every method they define has an entry in method_table() and the reverse:
// a fact of the build, which a unit test checks (the runtime parses the IDL only when a call
// needs it).
[[nodiscard]] Status check_method_table();

// Where an awaited operation stands.
struct Settlement {
  bool done = false;
  bool succeeded = false;
  std::string reason;  // why it did not succeed
};
[[nodiscard]] Settlement settle(ServiceOperation operation, const ServiceStatus& status,
                                pid_t previous_pid);

// Reply parts shared with the server's own answers.
[[nodiscard]] Json service_json(const RuntimeView& view, const ServiceStatus& status);
[[nodiscard]] Json no_such_service(const RuntimeView& view, const std::string& name);
[[nodiscard]] std::optional<ServiceStatus> find_status(const RuntimeView& view,
                                                       const std::string& name);
[[nodiscard]] std::string describe_exit(int wait_status);
// A GetLogs entry (LogEntry of the IDL).
[[nodiscard]] Json log_entry_json(const LogRecord& record);  // "status 3", "signal SIGSEGV"

}  // namespace ipcrt::runtime::control
