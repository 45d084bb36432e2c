// The control interface's pure parts (SPEC §10): varlink framing and call parsing, the IDL and
// its checks, who may connect and what they may do, and when an operation has settled.
#include <CppUTest/TestHarness.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/control/access.hpp"
#include "runtime/control/admission.hpp"
#include "runtime/control/interface_texts.hpp"
#include "runtime/control/methods.hpp"
#include "runtime/control/timestamps.hpp"
#include "runtime/control/varlink_idl.hpp"
#include "runtime/control/varlink_protocol.hpp"

namespace control = ipcrt::runtime::control;
using control::AccessLevel;
using control::Json;

namespace {

std::string nul(const std::string& text) {
  return text + std::string(1, '\0');
}

std::string call_error(const std::string& message) {
  auto call = control::parse_call(message);
  if (call) return "";
  return call.error();
}

}  // namespace

TEST_GROUP(VarlinkFraming){};

TEST(VarlinkFraming, MessagesAreCutAtEachNulAndAnIncompleteOneWaits) {
  control::MessageFramer framer;
  CHECK(framer.append(nul("{\"a\":1}") + nul("{\"b\":2}") + "{\"c\""));
  STRCMP_EQUAL("{\"a\":1}", framer.next().value().c_str());
  STRCMP_EQUAL("{\"b\":2}", framer.next().value().c_str());
  CHECK_FALSE(framer.next().has_value());
  CHECK(framer.append(":3}" + std::string(1, '\0')));
  STRCMP_EQUAL("{\"c\":3}", framer.next().value().c_str());
  LONGS_EQUAL(0, framer.held());
}

TEST(VarlinkFraming, HoldsAtMostItsLimitAndRefusesMore) {
  control::MessageFramer framer(16);
  CHECK(framer.append(std::string(16, 'x')));
  CHECK_FALSE(framer.append("y"));
  control::MessageFramer taken(16);
  CHECK(taken.append(nul(std::string(15, 'x'))));
  CHECK(taken.next().has_value());
  // What next() took no longer counts.
  CHECK(taken.append(std::string(16, 'z')));
}

TEST(VarlinkFraming, TheRequestBoundIs64KiB) {
  control::MessageFramer framer;
  LONGS_EQUAL(64 * 1024, framer.limit());
  CHECK(framer.append(std::string(64 * 1024, ' ')));
  CHECK_FALSE(framer.append(" "));
}

TEST_GROUP(VarlinkCalls){};

TEST(VarlinkCalls, ACallHasItsMethodParametersAndFlags) {
  auto call = control::parse_call(
      R"({"method": "io.ipcrt.Runtime.GetStatus", "parameters": {"service": "a"}, "more": true})");
  CHECK(call.has_value());
  STRCMP_EQUAL("io.ipcrt.Runtime", call->interface.c_str());
  STRCMP_EQUAL("GetStatus", call->member.c_str());
  STRCMP_EQUAL("a", call->parameters["service"].get<std::string>().c_str());
  CHECK(call->more);
  CHECK_FALSE(call->oneway);
  auto bare = control::parse_call(R"({"method": "org.varlink.service.GetInfo"})");
  CHECK(bare.has_value());
  CHECK(bare->parameters.is_object());
  CHECK(bare->parameters.empty());
  // Vendor extensions, named in reverse-domain notation, are allowed and ignored.
  CHECK(control::parse_call(R"({"method": "a.b.C", "com.example": {"x": 1}})").has_value());
}

TEST(VarlinkCalls, MalformedCallsAreRefusedWithTheReason) {
  STRCMP_CONTAINS("not valid JSON", call_error("not json").c_str());
  STRCMP_CONTAINS("not valid JSON", call_error("").c_str());
  STRCMP_CONTAINS("not a JSON object", call_error("[1, 2]").c_str());
  // A number no double holds is nlohmann's out_of_range, not a parse error (found by the
  // varlink fuzzer): refused like any malformed call, never thrown into the runtime.
  STRCMP_CONTAINS("a number out of range",
                  call_error(R"({"method": "a.b.C", "parameters": {"n": 2222E2222222}})").c_str());
  auto reply = ipcrt::runtime::control::parse_reply(R"({"continues": 2222222222222E2222222})");
  CHECK_FALSE(reply.has_value());
  STRCMP_CONTAINS("no \"method\"", call_error("{}").c_str());
  STRCMP_CONTAINS("no \"method\"", call_error(R"({"method": 7})").c_str());
  STRCMP_CONTAINS("INTERFACE.Method", call_error(R"({"method": "GetStatus"})").c_str());
  STRCMP_CONTAINS("INTERFACE.Method",
                  call_error(R"({"method": "io.ipcrt.Runtime.getStatus"})").c_str());
  STRCMP_CONTAINS("INTERFACE.Method", call_error(R"({"method": "io..x.GetStatus"})").c_str());
  STRCMP_CONTAINS("\"parameters\" is not an object",
                  call_error(R"({"method": "a.b.C", "parameters": [1]})").c_str());
  STRCMP_CONTAINS("not a boolean", call_error(R"({"method": "a.b.C", "more": 1})").c_str());
  STRCMP_CONTAINS("oneway",
                  call_error(R"({"method": "a.b.C", "oneway": true, "more": true})").c_str());
  STRCMP_CONTAINS("a member", call_error(R"({"method": "a.b.C", "methods": 1})").c_str());
  STRCMP_CONTAINS("nests deeper",
                  call_error(std::string(1000, '[') + std::string(1000, ']')).c_str());
}

TEST(VarlinkCalls, ErrorsNeverQuoteTheClientsBytes) {
  const std::string hostile = "{\"method\": \"\x1b[2J\", \"x\": \"\x1b]0;owned\x07\"}";
  CHECK(call_error(hostile).find('\x1b') == std::string::npos);
  CHECK(call_error("\x1b[31m garbage").find('\x1b') == std::string::npos);
}

TEST(VarlinkCalls, RepliesAndErrorsRoundTrip) {
  const std::string reply = control::encode_reply({{"a", 1}}, true);
  CHECK_EQUAL('\0', reply.back());
  auto parsed = control::parse_reply(reply.substr(0, reply.size() - 1));
  CHECK(parsed.has_value());
  CHECK(parsed->continues);
  LONGS_EQUAL(1, parsed->parameters["a"].get<int>());
  const std::string error = control::encode_error("x.y.Z", {{"reason", "r"}});
  auto failed = control::parse_reply(error.substr(0, error.size() - 1));
  STRCMP_EQUAL("x.y.Z", failed->error.value().c_str());
  const std::string call = control::encode_call("a.b.C", {{"p", true}}, false, true);
  auto back = control::parse_call(call.substr(0, call.size() - 1));
  CHECK(back->oneway);
  CHECK(back->parameters["p"].get<bool>());
}

TEST_GROUP(VarlinkIdl){};

TEST(VarlinkIdl, BothServedInterfacesParseAndEveryMethodIsServed) {
  auto consistent = control::check_method_table();
  if (!consistent) FAIL(consistent.error().describe().c_str());
  const auto* runtime = control::served_interface("io.ipcrt.Runtime");
  CHECK(runtime != nullptr);
  for (const char* method :
       {"GetStatus", "GetConnections", "GetQueues", "StartService", "StopService", "RestartService",
        "Shutdown", "Reload", "GetLogs", "GetMetrics"}) {
    CHECK_TEXT(runtime->find_method(method) != nullptr, method);
  }
  for (const char* error :
       {"NoSuchService", "PermissionDenied", "InvalidManifest", "ReloadRefused"}) {
    CHECK_TEXT(runtime->find_error(error) != nullptr, error);
  }
  const auto* service = control::served_interface("org.varlink.service");
  CHECK(service != nullptr);
  CHECK(service->find_method("GetInterfaceDescription") != nullptr);
  CHECK(service->find_error("MethodNotFound") != nullptr);
  CHECK(service->find_error("InvalidParameter") != nullptr);
}

TEST(VarlinkIdl, EveryFieldNameIsCamelCase) {
  // Varlink names allow no '-'; SPEC §10 wants camelCase (snake_case neither).
  const auto text = control::runtime_interface_text();
  auto interface = control::idl::parse_interface(text);
  CHECK(interface.has_value());
  std::vector<const control::idl::Type*> pending;
  for (const auto& [name, type] : interface->types) pending.push_back(&type);
  for (const auto& method : interface->methods) {
    pending.push_back(&method.input);
    pending.push_back(&method.output);
  }
  for (const auto& error : interface->errors) pending.push_back(&error.parameters);
  while (!pending.empty()) {
    const auto* type = pending.back();
    pending.pop_back();
    for (const auto& field : type->fields) {
      CHECK_TEXT(field.name.find('_') == std::string::npos &&
                     field.name.find('-') == std::string::npos && field.name[0] >= 'a' &&
                     field.name[0] <= 'z',
                 field.name.c_str());
      pending.push_back(field.type.get());
    }
    if (type->element) pending.push_back(type->element.get());
  }
}

TEST(VarlinkIdl, ValuesAreCheckedAgainstTheirTypes) {
  auto interface = control::idl::parse_interface(R"(
# a test interface
interface org.example.test
type Thing (name: string, kind: (a, b), count: ?int, tags: []string, extra: [string]bool,
            inner: ?(x: float))
method Do(thing: Thing, flag: ?bool) -> ()
error Oops (why: string)
)");
  if (!interface) FAIL(interface.error().describe().c_str());
  const auto& input = interface->find_method("Do")->input;
  auto check = [&](const char* json) {
    auto mismatch = control::idl::check_value(*interface, input, Json::parse(json));
    return mismatch ? mismatch->path + ": " + mismatch->reason : std::string("ok");
  };
  STRCMP_EQUAL("ok",
               check(R"({"thing": {"name": "n", "kind": "a", "tags": [], "extra": {}}})").c_str());
  STRCMP_EQUAL("ok", check(R"({"thing": {"name": "n", "kind": "b", "count": null, "tags": ["t"],
                              "extra": {"k": true}, "inner": {"x": 1}}, "flag": false})")
                         .c_str());
  STRCMP_EQUAL("/thing: missing", check("{}").c_str());
  STRCMP_EQUAL("/thing/kind: expected one of a, b",
               check(R"({"thing": {"name": "n", "kind": "c", "tags": [], "extra": {}}})").c_str());
  STRCMP_EQUAL(
      "/thing/tags/1: expected a string",
      check(R"({"thing": {"name": "n", "kind": "a", "tags": ["x", 2], "extra": {}}})").c_str());
  STRCMP_EQUAL(
      "/thing/extra/k: expected a boolean",
      check(R"({"thing": {"name": "n", "kind": "a", "tags": [], "extra": {"k": 1}}})").c_str());
  STRCMP_EQUAL(
      "/flag: expected a boolean",
      check(R"({"thing": {"name": "n", "kind": "a", "tags": [], "extra": {}}, "flag": "yes"})")
          .c_str());
  STRCMP_EQUAL(
      "/other: unknown field",
      check(R"({"thing": {"name": "n", "kind": "a", "tags": [], "extra": {}}, "other": 1})")
          .c_str());
  STRCMP_EQUAL(
      "/thing/count: expected an integer",
      check(R"({"thing": {"name": "n", "kind": "a", "count": 1.5, "tags": [], "extra": {}}})")
          .c_str());
}

TEST(VarlinkIdl, BrokenDefinitionsNameTheLine) {
  auto missing = control::idl::parse_interface("interface a.b\nmethod X(a: int) (b: int)\n");
  CHECK_FALSE(missing.has_value());
  STRCMP_CONTAINS("line 2", missing.error().message.c_str());
  CHECK_FALSE(control::idl::parse_interface("type X (a: int)").has_value());
  CHECK_FALSE(control::idl::parse_interface("interface a.b\ntype X (a: int, b)\n").has_value());
  CHECK_FALSE(control::idl::parse_interface("interface a.b\nmethod X() -> (a, b)\n").has_value());
  CHECK_FALSE(
      control::idl::parse_interface("interface a.b\ntype X (a: " + std::string(100, '?') + "int)")
          .has_value());
}

TEST_GROUP(ControlAccess){};

TEST(ControlAccess, RootOnTheHostMayDoEverythingAndTheGroupMayRead) {
  control::SocketPeer root{100, 0, 0, {}, ""};
  CHECK(control::socket_peer_access(root, std::nullopt) == AccessLevel::Root);
  control::SocketPeer member{100, 1000, 1000, {4, 1234}, ""};
  CHECK(control::socket_peer_access(member, 1234) == AccessLevel::Observe);
  control::SocketPeer primary{100, 1000, 1234, {}, ""};
  CHECK(control::socket_peer_access(primary, 1234) == AccessLevel::Observe);
  control::SocketPeer stranger{100, 1000, 1000, {4}, ""};
  CHECK(control::socket_peer_access(stranger, 1234) == AccessLevel::None);
  CHECK(control::socket_peer_access(member, std::nullopt) == AccessLevel::None);
  STRCMP_CONTAINS("not in the control group (gid 1234)",
                  control::access_explanation(stranger, AccessLevel::None, 1234).c_str());
  STRCMP_CONTAINS("\"control\": {\"group\"",
                  control::access_explanation(stranger, AccessLevel::None, std::nullopt).c_str());
}

TEST(ControlAccess, NothingInsideAServiceCountsNotEvenRoot) {
  control::SocketPeer sandboxed_root{100, 0, 0, {1234}, "it descends from the runtime (pid 1)"};
  CHECK(control::socket_peer_access(sandboxed_root, 1234) == AccessLevel::None);
  STRCMP_CONTAINS("ipcrt-control plug",
                  control::access_explanation(sandboxed_root, AccessLevel::None, 1234).c_str());
}

TEST(ControlAccess, TheLevelsAreOrdered) {
  CHECK(AccessLevel::None < AccessLevel::Observe);
  CHECK(AccessLevel::Observe < AccessLevel::Manage);
  CHECK(AccessLevel::Manage < AccessLevel::Root);
  STRCMP_EQUAL("manage", control::access_level_name(AccessLevel::Manage));
}

// The real kernel: a child of the process that reads the peer counts as inside a service
// (services are the runtime's children); the process itself does not.
TEST(ControlAccess, APeerThatDescendsFromTheReaderIsInsideAService) {
  int pair[2];
  LONGS_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  auto self = control::read_socket_peer(pair[0]);
  CHECK(self.has_value());
  LONGS_EQUAL(::getpid(), self->pid);
  STRCMP_EQUAL("", self->sandboxed_because.c_str());
  ::close(pair[0]);
  ::close(pair[1]);

  int to_child[2];
  LONGS_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_child));
  int listener[2];
  LONGS_EQUAL(0, ::pipe(listener));
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(listener[1]);
    // The child makes its own connection, so the credentials on it are the child's.
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) != 0) ::_exit(1);
    char control_buffer[CMSG_SPACE(sizeof(int))] = {};
    char byte = 'x';
    iovec io{&byte, 1};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control_buffer;
    message.msg_controllen = sizeof control_buffer;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &ends[0], sizeof(int));
    if (::sendmsg(to_child[1], &message, 0) != 1) ::_exit(1);
    char wait = 0;
    if (::read(listener[0], &wait, 1) < 0) ::_exit(1);  // stay alive while the parent looks
    ::_exit(0);
  }
  ::close(listener[0]);
  char byte = 0;
  char control_buffer[CMSG_SPACE(sizeof(int))] = {};
  iovec io{&byte, 1};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control_buffer;
  message.msg_controllen = sizeof control_buffer;
  LONGS_EQUAL(1, ::recvmsg(to_child[0], &message, 0));
  int received = -1;
  std::memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof(int));
  // The socketpair was made by the child: its SO_PEERCRED is the child's.
  auto peer = control::read_socket_peer(received);
  ::close(listener[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(received);
  ::close(to_child[0]);
  ::close(to_child[1]);
  CHECK(peer.has_value());
  LONGS_EQUAL(child, peer->pid);
  STRCMP_CONTAINS("descends from the runtime", peer->sandboxed_because.c_str());
  CHECK(control::socket_peer_access(*peer, std::nullopt) == AccessLevel::None);
}

TEST_GROUP(ControlAdmission){};

namespace {

using Clock = std::chrono::steady_clock;

control::OpenClient open_client(std::uint64_t id, uid_t uid, bool root, bool busy, int age) {
  return {id, uid, root, busy, Clock::time_point() + std::chrono::seconds(100 - age)};
}

}  // namespace

TEST(ControlAdmission, AFifthConnectionOfOneUidClosesItsLongestIdle) {
  std::vector<control::OpenClient> open;
  for (std::uint64_t i = 1; i <= 4; ++i)
    open.push_back(open_client(i, 1000, false, false, static_cast<int>(i)));
  open.push_back(open_client(9, 2000, false, false, 50));  // older, but another uid's
  auto admission = control::admit(open, 1000, false);
  CHECK(admission.admitted);
  LONGS_EQUAL(4, admission.evict.value());
  // Busy ones are never closed for a non-root newcomer: then it is refused.
  for (auto& client : open) client.busy = client.uid == 1000;
  CHECK_FALSE(control::admit(open, 1000, false).admitted);
}

TEST(ControlAdmission, OneSlotIsKeptForRootAndRootMayDisplaceABusyClient) {
  std::vector<control::OpenClient> open;
  // 15 non-root clients of four uids: the most non-root clients there may be.
  for (std::uint64_t i = 0; i < 15; ++i) {
    open.push_back(
        open_client(i + 1, static_cast<uid_t>(1000 + i % 4), false, false, static_cast<int>(i)));
  }
  auto stranger = control::admit(open, 5000, false);
  CHECK(stranger.admitted);
  LONGS_EQUAL(15, stranger.evict.value());  // the longest idle
  auto root = control::admit(open, 0, true);
  CHECK(root.admitted);
  CHECK_FALSE(root.evict.has_value());
  open.push_back(open_client(16, 0, true, false, 0));
  for (auto& client : open) client.busy = true;
  auto second_root = control::admit(open, 0, true);
  CHECK(second_root.admitted);
  LONGS_EQUAL(15, second_root.evict.value());  // the longest idle non-root, though busy
  CHECK_FALSE(control::admit(open, 5000, false).admitted);
}

TEST(ControlAdmission, AFullTableOfIdleRootClientsMakesRoomForAnother) {
  std::vector<control::OpenClient> open;
  for (std::uint64_t i = 1; i <= 16; ++i)
    open.push_back(open_client(i, 0, true, false, static_cast<int>(i)));
  auto admission = control::admit(open, 0, true);
  CHECK(admission.admitted);
  LONGS_EQUAL(16, admission.evict.value());
}

TEST_GROUP(ControlSettle){};

namespace {

ipcrt::runtime::ServiceStatus status_of(ipcrt::runtime::ServiceState state, pid_t pid) {
  ipcrt::runtime::ServiceStatus status;
  status.name = "a";
  status.state = state;
  status.pid = pid;
  return status;
}

}  // namespace

TEST(ControlSettle, EachOperationWaitsForItsEnd) {
  using control::ServiceOperation;
  using ipcrt::runtime::ServiceState;
  CHECK_FALSE(
      control::settle(ServiceOperation::Stop, status_of(ServiceState::Stopping, 5), 0).done);
  CHECK(control::settle(ServiceOperation::Stop, status_of(ServiceState::Stopped, 0), 0).succeeded);
  CHECK_FALSE(
      control::settle(ServiceOperation::Start, status_of(ServiceState::Waiting, 0), 0).done);
  CHECK_FALSE(
      control::settle(ServiceOperation::Start, status_of(ServiceState::Starting, 7), 0).done);
  CHECK(control::settle(ServiceOperation::Start, status_of(ServiceState::Running, 7), 0).succeeded);
  // A restart is done only once another process runs.
  CHECK_FALSE(
      control::settle(ServiceOperation::Restart, status_of(ServiceState::Running, 7), 7).done);
  CHECK_FALSE(
      control::settle(ServiceOperation::Restart, status_of(ServiceState::Stopping, 7), 7).done);
  CHECK(
      control::settle(ServiceOperation::Restart, status_of(ServiceState::Running, 8), 7).succeeded);
  CHECK(
      control::settle(ServiceOperation::Restart, status_of(ServiceState::Exited, 0), 7).succeeded);
}

TEST(ControlSettle, AFailedStartSaysWhy) {
  using ipcrt::runtime::ServiceState;
  auto failed = status_of(ServiceState::Failed, 0);
  failed.last_failure = "phase=exec errno=ENOENT";
  auto outcome = control::settle(control::ServiceOperation::Start, failed, 0);
  CHECK(outcome.done);
  CHECK_FALSE(outcome.succeeded);
  STRCMP_EQUAL("it failed: phase=exec errno=ENOENT", outcome.reason.c_str());
  auto restarting = status_of(ServiceState::Restarting, 0);
  restarting.last_wait_status = W_EXITCODE(3, 0);
  STRCMP_CONTAINS(
      "status 3",
      control::settle(control::ServiceOperation::Restart, restarting, 1).reason.c_str());
}

TEST_GROUP(ControlTimestamps){};

TEST(ControlTimestamps, Rfc3339InUtcWithMillisecondsAndBack) {
  const auto when =
      std::chrono::system_clock::from_time_t(1796135169) + std::chrono::milliseconds(123);
  STRCMP_EQUAL("2026-12-01T14:26:09.123Z", control::format_timestamp(when).c_str());
  CHECK(control::parse_timestamp("2026-12-01T14:26:09.123Z").value() == when);
  CHECK_FALSE(control::parse_timestamp("2026-12-01 14:26:09").has_value());
  STRCMP_EQUAL("45s", control::format_duration(std::chrono::seconds(45)).c_str());
  STRCMP_EQUAL("3m12s", control::format_duration(std::chrono::seconds(192)).c_str());
  STRCMP_EQUAL("2h05m", control::format_duration(std::chrono::seconds(7500)).c_str());
  STRCMP_EQUAL("3d04h",
               control::format_duration(std::chrono::seconds(3 * 86400 + 4 * 3600)).c_str());
}
