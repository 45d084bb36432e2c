// The JSON reader shared by the manifest parser and the board profiles.
#include "config/json_reader.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace ipcrt::config {
namespace {

// nlohmann reports a byte offset; editors want line and column (1-based).
void report_syntax_error(std::string_view text, const nlohmann::json::parse_error& error,
                         Diagnostics& diagnostics) {
  const std::size_t offset = error.byte == 0 ? 0 : std::min(error.byte - 1, text.size());
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = error.what();
  // Keep nlohmann's explanation, drop its "[json.exception.parse_error.101] parse error at
  // line 3, column 14: " prefix, which repeats what the location already says.
  if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  diagnostics.syntax_error(line, column, "invalid JSON: " + what);
}

// The parse callback tracks the pointer of every value, to report duplicate keys where they are.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        count_element();
        frames_.push_back({event == Json::parse_event_t::array_start, 0, {}, {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key: {
        Frame& frame = frames_.back();
        frame.key = parsed.get<std::string>();
        if (!frame.keys.insert(frame.key).second) {
          diagnostics_.error(pointer(),
                             cat("duplicate key \"", frame.key,
                                 "\": the later value would silently replace the earlier one"),
                             "keep one");
        }
        break;
      }
      case Json::parse_event_t::value:
        count_element();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    std::size_t count;  // elements seen, for arrays
    std::string key;    // current key, for objects
    std::set<std::string> keys;
  };

  void count_element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().count;
  }
  std::string pointer() const {
    std::string text;
    for (const auto& frame : frames_) {
      if (frame.array) {
        text += '/';
        text += std::to_string(frame.count - 1);
      } else {
        text += pointer_segment(frame.key);
      }
    }
    return text;
  }

  Diagnostics& diagnostics_;
  std::vector<Frame> frames_;
};

}  // namespace

std::optional<Json> parse_json(std::string_view text, Diagnostics& diagnostics) {
  Diagnostics duplicates;
  Json document;
  try {
    document = Json::parse(text.begin(), text.end(), DuplicateKeyFinder(duplicates));
  } catch (const nlohmann::json::parse_error& error) {
    report_syntax_error(text, error, diagnostics);
    return std::nullopt;
  } catch (const nlohmann::json::exception& error) {
    // Other nlohmann errors (e.g. invalid UTF-8 met while building a key) have no position.
    diagnostics.error("", cat("invalid JSON: ", error.what()));
    return std::nullopt;
  }
  diagnostics.append(duplicates);
  return document;
}

const char* json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number with a fraction";
    default:
      return "a binary value";
  }
}

void JsonReader::check_keys(const Json& object, const std::string& pointer,
                            std::span<const std::string_view> allowed, std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string hint = cat("allowed keys: ", join(allowed, ", "));
    if (auto closest = closest_match(key, allowed)) {
      hint = cat("did you mean \"", *closest, "\"? ", hint);
    }
    error(pointer + pointer_segment(key), cat("unknown key \"", key, "\" in ", where),
          std::move(hint));
  }
}

const Json* JsonReader::required(const Json& object, const std::string& pointer,
                                 std::string_view key, std::string hint) {
  auto it = object.find(key);
  if (it != object.end()) return &*it;
  error(pointer, cat("missing \"", key, "\""), std::move(hint));
  return nullptr;
}

bool JsonReader::expect(bool ok, const Json& value, const std::string& pointer,
                        std::string_view what) {
  if (!ok) error(pointer, cat("expected ", what, ", got ", json_type_name(value)));
  return ok;
}

std::optional<bool> JsonReader::boolean(const Json& value, const std::string& pointer) {
  if (!expect(value.is_boolean(), value, pointer, "true or false")) return std::nullopt;
  return value.get<bool>();
}

std::optional<std::string> JsonReader::text(const Json& value, const std::string& pointer) {
  if (!expect(value.is_string(), value, pointer, "a string")) return std::nullopt;
  auto result = value.get<std::string>();
  if (result.find('\0') != std::string::npos) {
    error(pointer, "contains a NUL character, which cannot be passed to the kernel", "remove it");
    return std::nullopt;
  }
  return result;
}

std::optional<std::string> JsonReader::non_empty_text(const Json& value,
                                                      const std::string& pointer) {
  auto result = text(value, pointer);
  if (result && result->empty()) {
    error(pointer, "expected a non-empty string, got \"\"");
    return std::nullopt;
  }
  return result;
}

std::vector<std::string> JsonReader::string_list(const Json& value, const std::string& pointer) {
  std::vector<std::string> result;
  if (!expect(value.is_array(), value, pointer, "an array of strings")) return result;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (auto item = text(value[i], cat(pointer, '/', i))) result.push_back(std::move(*item));
  }
  return result;
}

bool JsonReader::expect_string_list(const Json& value, const std::string& pointer,
                                    std::string_view empty_hint) {
  if (value.is_array() && !value.empty()) return true;
  error(pointer,
        cat("expected a string or a non-empty array of strings, got ",
            value.is_array() ? "an empty array" : json_type_name(value)),
        value.is_array() ? std::string(empty_hint) : std::string());
  return false;
}

std::optional<std::uint64_t> JsonReader::integer(const Json& value, const std::string& pointer,
                                                 std::uint64_t minimum, std::uint64_t maximum,
                                                 std::string above_maximum) {
  const std::string range = minimum == 1   ? std::string("a positive integer")
                            : minimum == 0 ? std::string("a non-negative integer")
                                           : cat("an integer from ", minimum);
  const std::string bound = maximum == std::numeric_limits<std::uint64_t>::max()
                                ? std::string()
                                : cat(" up to ", maximum);
  if (!value.is_number_integer()) {
    error(pointer, cat("expected ", range, bound, ", got ", json_type_name(value)));
    return std::nullopt;
  }
  const bool above = value.is_number_unsigned() && value.get<std::uint64_t>() > maximum;
  if (above || !value.is_number_unsigned() || value.get<std::uint64_t>() < minimum) {
    error(pointer, cat("expected ", range, bound, ", got ", value.dump()),
          above ? std::move(above_maximum) : std::string());
    return std::nullopt;
  }
  return value.get<std::uint64_t>();
}

}  // namespace ipcrt::config
