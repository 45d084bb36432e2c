// Parser edge cases that do not depend on the manifest rules: syntax errors and the document
// shape. The rule tables live in config_rules_test.cpp.
#include <CppUTest/TestHarness.h>

#include "config/parser.hpp"
#include "tests/support/process.hpp"

using ipcrt::config::parse_manifest;

TEST_GROUP(ConfigParser){};

TEST(ConfigParser, SyntaxErrorReportsLineAndColumn) {
  auto result = parse_manifest("{\n  \"version\": 1,\n  \"name\": }\n", "m.json");
  CHECK_FALSE(result.manifest.has_value());
  const auto& items = result.diagnostics.items();
  LONGS_EQUAL(1, items.size());
  LONGS_EQUAL(3, items[0].line);
  LONGS_EQUAL(11, items[0].column);
  STRCMP_CONTAINS("m.json:3:11: error: invalid JSON", result.diagnostics.format("m.json").c_str());
}

TEST(ConfigParser, NonObjectDocumentIsAnError) {
  auto result = parse_manifest("[1, 2]", "m.json");
  CHECK_FALSE(result.manifest.has_value());
  STRCMP_CONTAINS("m.json: /: error:", result.diagnostics.format("m.json").c_str());
}

TEST(ConfigParser, UnsupportedVersionNamesThePointerAndTheFix) {
  auto result = parse_manifest(R"({"version": 2, "name": "gw", "services": {}})", "m.json");
  CHECK_FALSE(result.manifest.has_value());
  STRCMP_CONTAINS("m.json: /version: error: unsupported version 2: use 1",
                  result.diagnostics.format("m.json").c_str());
}

TEST(ConfigParser, LoadManifestReadsARealFile) {
  ipcrt::test::TempDir dir;
  const std::string path = dir.write_file(
      "gw.json", R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/bin/a"]}}})");
  auto result = ipcrt::config::load_manifest(path);
  CHECK_TEXT(result.manifest.has_value(), result.diagnostics.format(path).c_str());
  STRCMP_EQUAL(path.c_str(), result.manifest->file.c_str());
}

TEST(ConfigParser, UnreadableFileIsADiagnostic) {
  ipcrt::test::TempDir dir;
  auto result = ipcrt::config::load_manifest(dir.path() + "/missing.json");
  CHECK_FALSE(result.manifest.has_value());
  STRCMP_CONTAINS("/: error: cannot read the manifest file: No such file or directory",
                  result.diagnostics.format("m.json").c_str());
}

TEST(ConfigParser, AHintFollowsItsMessageAndWarningsSaySo) {
  ipcrt::config::Diagnostics diagnostics;
  diagnostics.error("/services/a", "missing \"command\"", "add the program to run");
  diagnostics.warning("", "no hint here");
  STRCMP_EQUAL(
      "m.json: /services/a: error: missing \"command\" (hint: add the program to run)\n"
      "m.json: /: warning: no hint here\n",
      diagnostics.format("m.json").c_str());
}

TEST(ConfigParser, PointerSegmentEscapesPerRfc6901) {
  STRCMP_EQUAL("/a~1b~0c", ipcrt::config::pointer_segment("a/b~c").c_str());
  STRCMP_EQUAL("/", ipcrt::config::pointer_segment("").c_str());
}

// SPEC §5: io_uring's operations bypass seccomp: naming its calls is an error unless the
// service has no filter at all.
TEST(ConfigParser, IoUringCannotBeAllowedUnlessConfinementIsOff) {
  for (const char* confinement : {"strict", "complain"}) {
    auto result = parse_manifest(
        std::string(R"({"version": 1, "name": "gw", "services": {"s": {"command": ["/bin/true"],
          "confinement": ")") +
            confinement + R"(", "seccomp": {"allow": ["getpid", "io_uring_enter"]}}}})",
        "m.json");
    CHECK_FALSE(result.manifest.has_value());
    STRCMP_CONTAINS(
        "m.json: /services/s/seccomp/allow/1: error: \"io_uring_enter\" cannot be allowed: "
        "io_uring's operations bypass seccomp",
        result.diagnostics.format("m.json").c_str());
  }
  auto off = parse_manifest(R"({"version": 1, "name": "gw", "services": {"s": {"command":
      ["/bin/true"], "confinement": "off", "seccomp": {"allow": ["io_uring_setup"]}}}})",
                            "m.json");
  CHECK_TEXT(off.manifest.has_value(), off.diagnostics.format("m.json").c_str());
}
