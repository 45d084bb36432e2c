// Connection resolution (SPEC §2.5): explicit connections and their errors, auto-connection by
// identifier and publisher, ambiguity, unconnected-plug warnings and private shared memory.
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "config/connections.hpp"
#include "config/parser.hpp"

using ipcrt::config::Connection;
using ipcrt::config::Diagnostics;
using ipcrt::config::Interface;
using ipcrt::config::Severity;

namespace {

struct Resolved {
  std::vector<Connection> connections;
  Diagnostics diagnostics;
};

// Parses `json` (which must be a valid manifest) and resolves its connections.
Resolved resolve(const std::string& json) {
  auto parsed = ipcrt::config::parse_manifest(json, "m.json");
  Resolved resolved;
  if (!parsed.manifest) {
    FAIL(("fixture manifest does not parse:\n" + parsed.diagnostics.format("m.json")).c_str());
    return resolved;
  }
  resolved.connections = ipcrt::config::resolve_connections(*parsed.manifest, resolved.diagnostics);
  return resolved;
}

// "plug -> slot (auto|explicit)" per connection, one per line.
std::string describe(const std::vector<Connection>& connections) {
  std::string text;
  for (const auto& connection : connections) {
    text += connection.plug_ref() + " -> " + connection.slot_ref() +
            (connection.automatic ? " (auto)\n" : " (explicit)\n");
  }
  return text;
}

void check_single(const Diagnostics& diagnostics, Severity severity, const char* pointer,
                  const char* message) {
  const std::string printed = diagnostics.format("m.json");
  LONGS_EQUAL_TEXT(1, diagnostics.items().size(), printed.c_str());
  const auto& item = diagnostics.items()[0];
  CHECK_TEXT(item.severity == severity, printed.c_str());
  STRCMP_EQUAL(pointer, item.pointer.c_str());
  STRCMP_CONTAINS(message, item.message.c_str());
}

// A provider with a posix-mq slot "data" (identifier `identifier`) and a shm slot "frames".
std::string provider(const std::string& name, const std::string& identifier,
                     const std::string& publisher = "acme") {
  return "\"" + name + R"(": {"command": ["/p"], "publisher": ")" + publisher +
         R"(", "slots": {"data": {"interface": "posix-mq", "posix-mq": ")" + identifier +
         R"(", "path": "/)" + name + R"(-data"}}})";
}

std::string manifest(const std::string& services, const std::string& connections = "") {
  return R"({"version": 1, "name": "gw", "publisher": "acme", "services": {)" + services + "}" +
         (connections.empty() ? "" : R"(, "connections": [)" + connections + "]") + "}";
}

const std::string kConsumer =
    R"("cons": {"command": ["/c"], "plugs": {"data": {"interface": "posix-mq"}}})";

}  // namespace

TEST_GROUP(ConfigConnections){};

TEST(ConfigConnections, AutoConnectsByIdentifierAndPublisher) {
  auto resolved = resolve(manifest(provider("prov", "data") + "," + kConsumer));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  STRCMP_EQUAL("cons:data -> prov:data (auto)\n", describe(resolved.connections).c_str());
  CHECK(resolved.connections[0].interface == Interface::PosixMq);
}

TEST(ConfigConnections, DifferentIdentifierLeavesThePlugUnconnectedWithAWarning) {
  auto resolved = resolve(manifest(provider("prov", "other") + "," + kConsumer));
  check_single(resolved.diagnostics, Severity::Warning, "/services/cons/plugs/data",
               "no slot with posix-mq identifier \"data\" and publisher \"acme\"");
  CHECK(resolved.connections.empty());
}

TEST(ConfigConnections, DifferentPublisherDoesNotAutoConnect) {
  auto resolved = resolve(manifest(provider("prov", "data", "vendor") + "," + kConsumer));
  check_single(resolved.diagnostics, Severity::Warning, "/services/cons/plugs/data",
               "the plug stays unconnected");
}

TEST(ConfigConnections, ExplicitConnectionCrossesPublishers) {
  auto resolved = resolve(manifest(provider("prov", "data", "vendor") + "," + kConsumer,
                                   R"({"plug": "cons:data", "slot": "prov:data"})"));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  STRCMP_EQUAL("cons:data -> prov:data (explicit)\n", describe(resolved.connections).c_str());
}

TEST(ConfigConnections, TwoCandidatesAreAmbiguous) {
  auto resolved =
      resolve(manifest(provider("one", "data") + "," + provider("two", "data") + "," + kConsumer));
  check_single(resolved.diagnostics, Severity::Error, "/services/cons/plugs/data",
               "ambiguous: 2 slots match posix-mq identifier \"data\" (one:data, two:data): add "
               "an explicit connection");
}

TEST(ConfigConnections, ExplicitConnectionResolvesAmbiguityAndStopsAutoConnection) {
  auto resolved =
      resolve(manifest(provider("one", "data") + "," + provider("two", "data") + "," + kConsumer,
                       R"({"plug": "cons:data", "slot": "two:data"})"));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  STRCMP_EQUAL("cons:data -> two:data (explicit)\n", describe(resolved.connections).c_str());
}

TEST(ConfigConnections, OnePlugMayHaveSeveralExplicitConnections) {
  auto resolved =
      resolve(manifest(provider("one", "data") + "," + provider("two", "data") + "," + kConsumer,
                       R"({"plug": "cons:data", "slot": "one:data"},
                          {"plug": "cons:data", "slot": "two:data"})"));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  STRCMP_EQUAL("cons:data -> one:data (explicit)\ncons:data -> two:data (explicit)\n",
               describe(resolved.connections).c_str());
}

TEST(ConfigConnections, SameConnectionTwiceIsAnError) {
  auto resolved = resolve(manifest(provider("prov", "data") + "," + kConsumer,
                                   R"({"plug": "cons:data", "slot": "prov:data"},
                                      {"plug": "cons:data", "slot": "prov:data"})"));
  check_single(resolved.diagnostics, Severity::Error, "/connections/1", "listed twice");
}

TEST(ConfigConnections, ExplicitEndsMustExist) {
  struct Case {
    const char* connection;
    const char* pointer;
    const char* message;
  };
  const Case cases[] = {
      {R"({"plug": "ghost:data", "slot": "prov:data"})", "/connections/0/plug",
       "no service named \"ghost\""},
      {R"({"plug": "cons:nope", "slot": "prov:data"})", "/connections/0/plug",
       "service \"cons\" has no plug named \"nope\""},
      {R"({"plug": "cons:data", "slot": "ghost:data"})", "/connections/0/slot",
       "no service named \"ghost\""},
      {R"({"plug": "cons:data", "slot": "prov:nope"})", "/connections/0/slot",
       "service \"prov\" has no slot named \"nope\""},
  };
  for (const auto& test_case : cases) {
    auto resolved =
        resolve(manifest(provider("prov", "data") + "," + kConsumer, test_case.connection));
    check_single(resolved.diagnostics, Severity::Error, test_case.pointer, test_case.message);
  }
}

TEST(ConfigConnections, ExplicitEndsMustAgreeOnInterfaceAndIdentifier) {
  const std::string services =
      R"("prov": {"command": ["/p"], "slots": {
           "data": {"interface": "posix-mq", "posix-mq": "x", "path": "/prov-data"},
           "frames": {"interface": "shared-memory", "write": ["frames"]},
           "other": {"interface": "posix-mq", "path": "/prov-other"}}},
         "cons": {"command": ["/c"], "plugs": {"data": {"interface": "posix-mq", "posix-mq": "x"},
                                               "other": {"interface": "posix-mq"}}})";
  auto interface = resolve(manifest(services, R"({"plug": "cons:data", "slot": "prov:frames"})"));
  check_single(interface.diagnostics, Severity::Error, "/connections/0",
               "plug cons:data is posix-mq but slot prov:frames is shared-memory");
  auto identifier = resolve(manifest(services, R"({"plug": "cons:other", "slot": "prov:data"})"));
  // The other plug still auto-connects; only the explicit entry is wrong.
  check_single(identifier.diagnostics, Severity::Error, "/connections/0",
               "has posix-mq identifier \"other\" but slot prov:data has \"x\"");
}

TEST(ConfigConnections, NoConnectionWithinOneService) {
  const std::string services =
      R"("solo": {"command": ["/s"], "slots": {"data": {"interface": "posix-mq", "path": "/solo-data"}},
                  "plugs": {"loop": {"interface": "posix-mq", "posix-mq": "data"}}})";
  auto automatic = resolve(manifest(services));
  check_single(automatic.diagnostics, Severity::Warning, "/services/solo/plugs/loop",
               "no slot with posix-mq identifier \"data\"");
  auto explicit_one = resolve(manifest(services, R"({"plug": "solo:loop", "slot": "solo:data"})"));
  check_single(explicit_one.diagnostics, Severity::Error, "/connections/0",
               "a plug and a slot of the same service cannot connect");
}

TEST(ConfigConnections, PrivateSharedMemoryConnectsToTheSystemSlot) {
  auto resolved = resolve(manifest(
      R"("worker": {"command": ["/w"], "plugs": {"scratch": {"interface": "shared-memory", "private": true}}})"));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  LONGS_EQUAL(1, resolved.connections.size());
  const auto& connection = resolved.connections[0];
  STRCMP_EQUAL("", connection.slot_service.c_str());
  STRCMP_EQUAL("shared-memory", connection.slot.c_str());
  STRCMP_EQUAL(":shared-memory", connection.slot_ref().c_str());
  CHECK(connection.automatic);
  CHECK(connection.interface == Interface::SharedMemory);
}

TEST(ConfigConnections, PrivatePlugCannotBeConnectedToAServicesSlot) {
  auto resolved = resolve(manifest(
      R"("worker": {"command": ["/w"], "plugs": {"frames": {"interface": "shared-memory", "private": true}}},
         "prov": {"command": ["/p"], "slots": {"frames": {"interface": "shared-memory", "write": ["frames"]}}})",
      R"({"plug": "worker:frames", "slot": "prov:frames"})"));
  check_single(resolved.diagnostics, Severity::Error, "/connections/0",
               "is private: it connects to the implicit system slot, not to prov:frames");
  STRCMP_CONTAINS("make its slot \":shared-memory\"", resolved.diagnostics.items()[0].hint.c_str());
}

TEST(ConfigConnections, PrivatePlugMayBeConnectedToTheSystemSlotAsSnapConnectWritesIt) {
  auto resolved = resolve(manifest(
      R"("worker": {"command": ["/w"], "plugs": {"frames": {"interface": "shared-memory", "private": true}}})",
      R"({"plug": "worker:frames", "slot": ":shared-memory"})"));
  LONGS_EQUAL_TEXT(0, resolved.diagnostics.items().size(),
                   resolved.diagnostics.format("m.json").c_str());
  STRCMP_EQUAL("worker:frames -> :shared-memory (explicit)\n",
               describe(resolved.connections).c_str());
  CHECK(resolved.connections[0].interface == Interface::SharedMemory);
}

TEST(ConfigConnections, TheSystemSlotServesOnlyPrivateSharedMemoryPlugs) {
  auto shared = resolve(manifest(
      R"("worker": {"command": ["/w"], "plugs": {"frames": {"interface": "shared-memory"}}})",
      R"({"plug": "worker:frames", "slot": ":shared-memory"})"));
  check_single(shared.diagnostics, Severity::Error, "/connections/0",
               "plug worker:frames is not a private shared-memory plug");
  STRCMP_CONTAINS("add \"private\": true", shared.diagnostics.items()[0].hint.c_str());
  auto queue = resolve(
      manifest(R"("worker": {"command": ["/w"], "plugs": {"q": {"interface": "posix-mq"}}})",
               R"({"plug": "worker:q", "slot": ":shared-memory"})"));
  check_single(queue.diagnostics, Severity::Error, "/connections/0",
               "plug worker:q is not a private shared-memory plug");
  auto other = resolve(manifest(
      R"("worker": {"command": ["/w"], "plugs": {"frames": {"interface": "shared-memory", "private": true}}})",
      R"({"plug": "worker:frames", "slot": ":posix-mq"})"));
  check_single(other.diagnostics, Severity::Error, "/connections/0/slot",
               "no system slot \":posix-mq\": the only one is \":shared-memory\"");
}

TEST(ConfigConnections, AnEmptyIdentifierIsTheNameAndAutoConnects) {
  auto resolved = resolve(manifest(
      R"("prov": {"command": ["/p"], "slots": {"data": {"interface": "posix-mq", "posix-mq": "", "path": "/d"}}},
         "cons": {"command": ["/c"], "plugs": {"data": {"interface": "posix-mq", "posix-mq": ""}}})",
      ""));
  LONGS_EQUAL_TEXT(0, resolved.diagnostics.items().size(),
                   resolved.diagnostics.format("m.json").c_str());
  STRCMP_EQUAL("cons:data -> prov:data (auto)\n", describe(resolved.connections).c_str());
}

TEST(ConfigConnections, ResultFollowsThePlugsDocumentOrder) {
  auto resolved = resolve(manifest(
      R"("prov": {"command": ["/p"], "slots": {"b": {"interface": "posix-mq", "path": "/prov-b"},
                                               "a": {"interface": "shared-memory", "write": ["prov-a"]}}},
         "zz": {"command": ["/z"], "plugs": {"b": {"interface": "posix-mq"}, "a": {"interface": "shared-memory"}}},
         "aa": {"command": ["/a"], "plugs": {"a": {"interface": "shared-memory"}}})",
      R"({"plug": "aa:a", "slot": "prov:a"})"));
  LONGS_EQUAL(0, resolved.diagnostics.items().size());
  STRCMP_EQUAL("zz:b -> prov:b (auto)\nzz:a -> prov:a (auto)\naa:a -> prov:a (explicit)\n",
               describe(resolved.connections).c_str());
}
