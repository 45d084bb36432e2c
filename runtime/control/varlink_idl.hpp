// Varlink interface definitions (https://varlink.org/Interface-Definition): a parser for the
// `.varlink` text and a check of JSON values against its types. The server validates every
// call's parameters against the IDL it serves, so the file in the repository is the one
// description of the interface; the tests check every reply against it the same way.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "runtime/control/json.hpp"

namespace ipcrt::runtime::control::idl {

struct Type;

struct Field {
  std::string name;
  std::shared_ptr<const Type> type;
};

struct Type {
  enum class Kind { Bool, Int, Float, String, Object, Named, Struct, Enum, Array, Map };
  Kind kind = Kind::Object;
  bool nullable = false;                // `?type`: null or, as a struct field, absent
  std::string name;                     // Named: a `type` of the interface
  std::vector<Field> fields;            // Struct
  std::vector<std::string> values;      // Enum
  std::shared_ptr<const Type> element;  // Array, Map (keys are strings)
};

struct Method {
  std::string name;
  Type input;   // a Struct
  Type output;  // a Struct
};

struct ErrorType {
  std::string name;
  Type parameters;  // a Struct
};

struct Interface {
  std::string name;  // "io.ipcrt.Runtime"
  std::map<std::string, Type> types;
  std::vector<Method> methods;  // document order
  std::vector<ErrorType> errors;

  [[nodiscard]] const Method* find_method(std::string_view method) const;
  [[nodiscard]] const ErrorType* find_error(std::string_view error) const;
};

// Parses a whole `.varlink` text; the error names the line and what was expected.
[[nodiscard]] Result<Interface> parse_interface(std::string_view text);

struct Mismatch {
  std::string path;    // JSON pointer of the offending value: "/services/0/state"
  std::string reason;  // "expected one of waiting, starting, ...", "unknown field"
};

// Checks `value` against `type` of `interface`: nullopt when it conforms. Struct values must
// have every non-nullable field and no other; nullable ones may be absent or null.
[[nodiscard]] std::optional<Mismatch> check_value(const Interface& interface, const Type& type,
                                                  const Json& value);

}  // namespace ipcrt::runtime::control::idl
