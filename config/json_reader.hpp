// The one JSON reader of config/ (manifests and board profiles): parsing, with line and column
// on syntax errors and duplicate keys found, then typed reads of values at JSON pointers. Every
// read that fails reports into Diagnostics and returns nothing, so the caller goes on and one
// run shows every problem. nlohmann's exceptions stop here. Only config/*.cpp include this
// header: it brings nlohmann along.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/text.hpp"
#include "config/diagnostics.hpp"

namespace ipcrt::config {

// ordered_json everywhere: one nlohmann instantiation in the binary, not two (about 30 KB),
// and members are visited, hence reported, in file order.
using Json = nlohmann::ordered_json;
using Keys = std::initializer_list<std::string_view>;

// Parses a whole document. A syntax error is reported with its line and column and gives
// nullopt; duplicate keys are reported at their pointers (JSON parsers would silently keep the
// last one; in a hand-written file it is almost always a copy-paste mistake).
[[nodiscard]] std::optional<Json> parse_json(std::string_view text, Diagnostics& diagnostics);

// "an object", "a string", "an integer"...: what a value is, for "expected X, got Y".
[[nodiscard]] const char* json_type_name(const Json& value);

class JsonReader {
 public:
  explicit JsonReader(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  void error(const std::string& pointer, std::string message, std::string hint = {}) {
    diagnostics_.error(pointer, std::move(message), std::move(hint));
  }
  void warning(const std::string& pointer, std::string message, std::string hint = {}) {
    diagnostics_.warning(pointer, std::move(message), std::move(hint));
  }

  // Reports each key of `object` that is not in `allowed`, suggesting the closest allowed key.
  // `where` names the object in the message: "a service".
  void check_keys(const Json& object, const std::string& pointer,
                  std::span<const std::string_view> allowed, std::string_view where);
  void check_keys(const Json& object, const std::string& pointer, Keys allowed,
                  std::string_view where) {
    check_keys(object, pointer, std::span(allowed.begin(), allowed.size()), where);
  }

  // The member `key` of `object`; when it is missing, reports that at `pointer` (the object)
  // with `hint` and returns nullptr.
  const Json* required(const Json& object, const std::string& pointer, std::string_view key,
                       std::string hint);

  // Reports "expected WHAT, got TYPE" unless `ok`; returns `ok`.
  bool expect(bool ok, const Json& value, const std::string& pointer, std::string_view what);
  bool expect_object(const Json& value, const std::string& pointer) {
    return expect(value.is_object(), value, pointer, "an object");
  }

  std::optional<bool> boolean(const Json& value, const std::string& pointer);

  // A string without NUL bytes, which could never reach the kernel intact.
  std::optional<std::string> text(const Json& value, const std::string& pointer);
  std::optional<std::string> non_empty_text(const Json& value, const std::string& pointer);

  // An array of strings; bad elements are reported and skipped.
  std::vector<std::string> string_list(const Json& value, const std::string& pointer);

  // A string or a non-empty array of strings (`"path": "/q"` or `["/q", "/r"]`): calls
  // visit(text, pointer) for each string, in document order; bad items are reported and
  // skipped. `empty_hint` says what to write instead of an empty array.
  template <class Visit>
  void for_each_string(const Json& value, const std::string& pointer, std::string_view empty_hint,
                       Visit&& visit) {
    if (value.is_string()) {
      if (auto item = text(value, pointer)) visit(*item, pointer);
      return;
    }
    if (!expect_string_list(value, pointer, empty_hint)) return;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string at = cat(pointer, '/', i);
      if (auto item = text(value[i], at)) visit(*item, at);
    }
  }

  // An integer in [minimum, maximum]. `above_maximum` says, for a larger value, where the
  // maximum comes from: "the kernel's hard ceiling, which binds even root".
  std::optional<std::uint64_t> integer(const Json& value, const std::string& pointer,
                                       std::uint64_t minimum, std::uint64_t maximum,
                                       std::string above_maximum = {});

  // One of the strings of `values`, as its enumerator.
  template <class Enum>
  std::optional<Enum> choice(const Json& value, const std::string& pointer,
                             std::initializer_list<std::pair<std::string_view, Enum>> values) {
    std::vector<std::string> names;
    for (const auto& [name, item] : values) names.push_back(cat('"', name, '"'));
    if (value.is_string()) {
      for (const auto& [name, item] : values) {
        if (value.get<std::string>() == name) return item;
      }
      error(pointer, cat("unknown value ", value.dump(), ": use one of ", join(names, ", ")));
      return std::nullopt;
    }
    error(pointer, cat("expected one of ", join(names, ", "), ", got ", json_type_name(value)));
    return std::nullopt;
  }

  Diagnostics& diagnostics() { return diagnostics_; }

 private:
  // A non-empty array, else reported: for_each_string's shape check.
  bool expect_string_list(const Json& value, const std::string& pointer,
                          std::string_view empty_hint);

  Diagnostics& diagnostics_;
};

// Runs `read` over a parsed document. An exception from nlohmann there is a rule that forgot a
// type check: it becomes a diagnostic instead of ending the runtime.
template <class Read>
void read_document(Diagnostics& diagnostics, Read&& read) {
  try {
    read();
  } catch (const nlohmann::json::exception& error) {
    diagnostics.error("", std::string("internal error while reading the document: ") + error.what(),
                      "a rule misses a type check; please report this with the file");
  }
}

}  // namespace ipcrt::config
