// Parser edge cases that do not depend on the manifest rules: syntax errors and the document
// shape. The rule tables live in config_rules_test.cpp.
#include <CppUTest/TestHarness.h>

#include "config/parser.hpp"

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
