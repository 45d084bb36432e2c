// The manifest's side of the control interface (SPEC §1, §10): the top-level `control` object
// and ipcrt-control plugs, which need `access`, take part in no slot matching, and never warn
// that they connect to nothing.
#include <CppUTest/TestHarness.h>

#include <string>

#include "config/connections.hpp"
#include "config/parser.hpp"

using ipcrt::config::ControlAccess;
using ipcrt::config::parse_manifest;

namespace {

std::string manifest(const std::string& top, const std::string& plugs) {
  return R"({"version": 1, "name": "gw", )" + top +
         R"("services": {"a": {"command": ["/bin/a"], "plugs": {)" + plugs + "}}}}";
}

std::string diagnostics_of(const std::string& text) {
  auto parsed = parse_manifest(text, "m.json");
  std::string all = parsed.diagnostics.format("m.json");
  if (parsed.manifest) {
    ipcrt::config::Diagnostics connections;
    (void)ipcrt::config::resolve_connections(*parsed.manifest, connections);
    all += connections.format("m.json");
  }
  return all;
}

}  // namespace

TEST_GROUP(ControlManifest){};

TEST(ControlManifest, AGroupAndPlugsOfBothLevelsAreRead) {
  auto parsed =
      parse_manifest(manifest(R"("control": {"group": "ops"}, )",
                              R"("ctl": {"interface": "ipcrt-control", "access": "manage"})"),
                     "m.json");
  CHECK(parsed.manifest.has_value());
  STRCMP_EQUAL("ops", parsed.manifest->control.group.value().c_str());
  const auto& plug = parsed.manifest->services[0].control_plug;
  CHECK(plug.has_value());
  STRCMP_EQUAL("ctl", plug->name.c_str());
  CHECK(plug->access == ControlAccess::Manage);
  STRCMP_EQUAL("/services/a/plugs/ctl", plug->pointer.c_str());
  CHECK(parsed.manifest->services[0].plugs.empty());  // not a slot-matching plug
  auto numeric = parse_manifest(manifest(R"("control": {"group": 1234}, )", ""), "m.json");
  STRCMP_EQUAL("1234", numeric.manifest->control.group.value().c_str());
  auto none = parse_manifest(manifest("", ""), "m.json");
  CHECK_FALSE(none.manifest->control.group.has_value());
}

TEST(ControlManifest, AControlPlugNeverWarnsThatItConnectsToNothing) {
  STRCMP_EQUAL("", diagnostics_of(manifest("", R"("ctl": {"interface": "ipcrt-control",
                                                           "access": "observe"})"))
                       .c_str());
}

TEST(ControlManifest, MistakesAreErrorsAtTheirPointer) {
  STRCMP_CONTAINS(
      "m.json: /services/a/plugs/ctl: error: missing \"access\": add \"access\": \"observe\"",
      diagnostics_of(manifest("", R"("ctl": {"interface": "ipcrt-control"})")).c_str());
  STRCMP_CONTAINS(
      "/services/a/plugs/ctl/access: error: unknown value \"admin\": use one of "
      "\"observe\", \"manage\"",
      diagnostics_of(manifest("", R"("ctl": {"interface": "ipcrt-control",
                                                        "access": "admin"})"))
          .c_str());
  STRCMP_CONTAINS(
      "/services/a/plugs/ctl/path: error: unknown key \"path\" in an ipcrt-control plug",
      diagnostics_of(manifest("", R"("ctl": {"interface": "ipcrt-control",
                                                        "access": "observe", "path": "/q"})"))
          .c_str());
  STRCMP_CONTAINS(
      "/services/a/plugs/two: error: service \"a\" already has the ipcrt-control "
      "plug \"one\"",
      diagnostics_of(manifest("", R"("one": {"interface": "ipcrt-control", "access": "observe"},
                                                 "two": {"interface": "ipcrt-control", "access": "manage"})"))
          .c_str());
  STRCMP_CONTAINS("/control/grop: error: unknown key \"grop\" in control (hint: did you mean \"group\"?",
                  diagnostics_of(manifest(R"("control": {"grop": "ops"}, )", "")).c_str());
  STRCMP_CONTAINS("/control: error: expected an object, got a string",
                  diagnostics_of(manifest(R"("control": "ops", )", "")).c_str());
  STRCMP_CONTAINS("/control/group: error: expected a group name or number, got an array",
                  diagnostics_of(manifest(R"("control": {"group": []}, )", "")).c_str());
  const std::string slot = R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/bin/a"],
      "slots": {"ctl": {"interface": "ipcrt-control"}}}}})";
  STRCMP_CONTAINS("/services/a/slots/ctl/interface: error: ipcrt-control is a plug only",
                  diagnostics_of(slot).c_str());
}
