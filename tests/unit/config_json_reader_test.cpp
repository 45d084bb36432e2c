// The JSON reader shared by manifests and board profiles, on its own: what each typed read
// accepts and how it reports what it does not. The manifest rules built on it are in
// config_rules_test.cpp.
#include <CppUTest/TestHarness.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/json_reader.hpp"

using ipcrt::config::Diagnostics;
using ipcrt::config::Json;
using ipcrt::config::JsonReader;

namespace {

Json parsed(std::string_view text) {
  Diagnostics diagnostics;
  auto document = ipcrt::config::parse_json(text, diagnostics);
  CHECK_TEXT(document.has_value(), diagnostics.format("t.json").c_str());
  return *document;
}

}  // namespace

TEST_GROUP(JsonReader){};

TEST(JsonReader, SyntaxErrorsGiveLineAndColumnAndNoDocument) {
  Diagnostics diagnostics;
  CHECK_FALSE(ipcrt::config::parse_json("{\n  \"a\": [1,\n  }", diagnostics).has_value());
  LONGS_EQUAL(1, diagnostics.items().size());
  LONGS_EQUAL(3, diagnostics.items()[0].line);
  LONGS_EQUAL(3, diagnostics.items()[0].column);
}

TEST(JsonReader, DuplicateKeysAreReportedAtTheirPointer) {
  Diagnostics diagnostics;
  auto document = ipcrt::config::parse_json(R"({"a": [{"k": 1, "k": 2}], "a": 3})", diagnostics);
  CHECK(document.has_value());
  STRCMP_EQUAL(
      "t.json: /a/0/k: error: duplicate key \"k\": the later value would silently replace the "
      "earlier one (hint: keep one)\n"
      "t.json: /a: error: duplicate key \"a\": the later value would silently replace the "
      "earlier one (hint: keep one)\n",
      diagnostics.format("t.json").c_str());
}

TEST(JsonReader, UnknownKeysSuggestTheClosestAllowedKeyOnlyWhenItIsClose) {
  Diagnostics diagnostics;
  JsonReader reader(diagnostics);
  reader.check_keys(parsed(R"({"mqeue": 1, "zzz": 2, "name": 3})"), "/board", {"name", "mqueue"},
                    "a board");
  STRCMP_EQUAL(
      "t.json: /board/mqeue: error: unknown key \"mqeue\" in a board (hint: did you mean "
      "\"mqueue\"? allowed keys: name, mqueue)\n"
      "t.json: /board/zzz: error: unknown key \"zzz\" in a board (hint: allowed keys: name, "
      "mqueue)\n",
      diagnostics.format("t.json").c_str());
}

TEST(JsonReader, TypedReadsReturnNothingAndReportWhatTheyExpected) {
  Diagnostics diagnostics;
  JsonReader reader(diagnostics);
  const Json document = parsed(R"({"n": 70000, "f": 1.5, "b": "yes", "s": "a\u0000b", "e": ""})");
  CHECK_FALSE(reader.integer(document["n"], "/n", 1, 65536, "the kernel's ceiling"));
  CHECK_FALSE(reader.integer(document["f"], "/f", 0, 10));
  CHECK_FALSE(reader.integer(parsed("0"), "/z", 1, 65536, "the kernel's ceiling"));
  CHECK_FALSE(reader.boolean(document["b"], "/b"));
  CHECK_FALSE(reader.text(document["s"], "/s"));
  CHECK_FALSE(reader.non_empty_text(document["e"], "/e"));
  CHECK_FALSE(reader.required(document, "", "missing", "add it"));
  STRCMP_EQUAL(
      "t.json: /n: error: expected a positive integer up to 65536, got 70000 (hint: the kernel's "
      "ceiling)\n"
      "t.json: /f: error: expected a non-negative integer up to 10, got a number with a fraction\n"
      "t.json: /z: error: expected a positive integer up to 65536, got 0\n"
      "t.json: /b: error: expected true or false, got a string\n"
      "t.json: /s: error: contains a NUL character, which cannot be passed to the kernel (hint: "
      "remove it)\n"
      "t.json: /e: error: expected a non-empty string, got \"\"\n"
      "t.json: /: error: missing \"missing\" (hint: add it)\n",
      diagnostics.format("t.json").c_str());
  LONGS_EQUAL(65536, *reader.integer(parsed("65536"), "", 1, 65536));
}

TEST(JsonReader, StringOrListVisitsEachStringInDocumentOrder) {
  Diagnostics diagnostics;
  JsonReader reader(diagnostics);
  std::vector<std::string> seen;
  auto visit = [&](const std::string& text, const std::string& pointer) {
    seen.push_back(pointer + "=" + text);
  };
  reader.for_each_string(parsed(R"("/q")"), "/p", "list one", visit);
  reader.for_each_string(parsed(R"(["/a", 3, "/b"])"), "/l", "list one", visit);
  reader.for_each_string(parsed("[]"), "/e", "list one", visit);
  LONGS_EQUAL(3, seen.size());
  STRCMP_EQUAL("/p=/q", seen[0].c_str());
  STRCMP_EQUAL("/l/0=/a", seen[1].c_str());
  STRCMP_EQUAL("/l/2=/b", seen[2].c_str());
  STRCMP_EQUAL(
      "t.json: /l/1: error: expected a string, got an integer\n"
      "t.json: /e: error: expected a string or a non-empty array of strings, got an empty array "
      "(hint: list one)\n",
      diagnostics.format("t.json").c_str());
}

TEST(JsonReader, ChoiceNamesTheValuesItAccepts) {
  enum class Mode { Strict, Off };
  Diagnostics diagnostics;
  JsonReader reader(diagnostics);
  auto mode =
      reader.choice<Mode>(parsed(R"("off")"), "/m", {{"strict", Mode::Strict}, {"off", Mode::Off}});
  CHECK(mode == Mode::Off);
  CHECK_FALSE(reader.choice<Mode>(parsed(R"("loose")"), "/m",
                                  {{"strict", Mode::Strict}, {"off", Mode::Off}}));
  STRCMP_EQUAL("t.json: /m: error: unknown value \"loose\": use one of \"strict\", \"off\"\n",
               diagnostics.format("t.json").c_str());
}

TEST(JsonReader, AnExceptionWhileReadingBecomesADiagnostic) {
  Diagnostics diagnostics;
  ipcrt::config::read_document(diagnostics, [] { (void)parsed("1").get<std::string>(); });
  CHECK(diagnostics.has_errors());
  STRCMP_CONTAINS("internal error while reading the document", diagnostics.format("t").c_str());
}
