// A recursive-descent parser of the varlink IDL, and the value checker.
#include "runtime/control/varlink_idl.hpp"

#include <algorithm>
#include <cctype>

#include "common/text.hpp"

namespace ipcrt::runtime::control::idl {
namespace {

// Types nest no deeper than this in any sane interface; bounds the parser's recursion.
constexpr int kMaxTypeDepth = 16;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Interface> interface() {
    Interface result;
    if (!keyword("interface")) return failure("expected \"interface\" first");
    result.name = word();
    if (result.name.empty()) return failure("expected the interface name");
    for (;;) {
      skip_space();
      if (position_ == text_.size()) break;
      if (keyword("type")) {
        std::string name = word();
        if (name.empty()) return failure("expected a type name");
        auto type = struct_or_enum(0);
        if (!type) return std::unexpected(type.error());
        result.types[name] = std::move(*type);
      } else if (keyword("method")) {
        Method method;
        method.name = word();
        if (method.name.empty()) return failure("expected a method name");
        auto input = struct_type(0);
        if (!input) return std::unexpected(input.error());
        if (!symbol("->")) return failure(cat("expected -> after the input of ", method.name));
        auto output = struct_type(0);
        if (!output) return std::unexpected(output.error());
        method.input = std::move(*input);
        method.output = std::move(*output);
        result.methods.push_back(std::move(method));
      } else if (keyword("error")) {
        ErrorType error;
        error.name = word();
        if (error.name.empty()) return failure("expected an error name");
        auto parameters = struct_type(0);
        if (!parameters) return std::unexpected(parameters.error());
        error.parameters = std::move(*parameters);
        result.errors.push_back(std::move(error));
      } else {
        return failure("expected type, method or error");
      }
    }
    return result;
  }

 private:
  std::unexpected<Error> failure(const std::string& what) const {
    const auto line =
        1 + std::count(text_.begin(), text_.begin() + static_cast<long>(position_), '\n');
    return fail(cat("interface definition, line ", line, ": ", what));
  }

  void skip_space() {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == '#') {
        while (position_ < text_.size() && text_[position_] != '\n') ++position_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++position_;
      } else {
        return;
      }
    }
  }

  // Letters, digits, '_', '.' and '-' (interface names have dots and dashes).
  std::string word() {
    skip_space();
    const std::size_t begin = position_;
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') break;
      ++position_;
    }
    return std::string(text_.substr(begin, position_ - begin));
  }

  bool keyword(std::string_view expected) {
    const std::size_t saved = position_;
    if (word() == expected) return true;
    position_ = saved;
    return false;
  }

  bool symbol(std::string_view expected) {
    skip_space();
    if (text_.substr(position_, expected.size()) != expected) return false;
    position_ += expected.size();
    return true;
  }

  bool peek(char expected) {
    skip_space();
    return position_ < text_.size() && text_[position_] == expected;
  }

  Result<Type> struct_type(int depth) {
    auto type = struct_or_enum(depth);
    if (type && type->kind != Type::Kind::Struct) return failure("expected a struct, not an enum");
    return type;
  }

  // "(" ")" | "(" name ":" type, ... ")" | "(" name, ... ")"
  Result<Type> struct_or_enum(int depth) {
    if (depth > kMaxTypeDepth) return failure("types nest too deeply");
    if (!symbol("(")) return failure("expected (");
    Type type;
    type.kind = Type::Kind::Struct;
    if (symbol(")")) return type;
    bool first = true;
    do {
      std::string name = word();
      if (name.empty()) return failure("expected a field or enum value name");
      const bool field = symbol(":");
      if (first) type.kind = field ? Type::Kind::Struct : Type::Kind::Enum;
      first = false;
      if (field != (type.kind == Type::Kind::Struct)) {
        return failure("a struct's fields need types and an enum's values none");
      }
      if (type.kind == Type::Kind::Enum) {
        type.values.push_back(std::move(name));
        continue;
      }
      auto field_type = any_type(depth + 1);
      if (!field_type) return std::unexpected(field_type.error());
      type.fields.push_back(
          {std::move(name), std::make_shared<const Type>(std::move(*field_type))});
    } while (symbol(","));
    if (!symbol(")")) return failure("expected , or )");
    return type;
  }

  Result<Type> any_type(int depth) {
    if (depth > kMaxTypeDepth) return failure("types nest too deeply");
    const bool nullable = symbol("?");
    Type type;
    if (peek('(')) {
      auto inner = struct_or_enum(depth + 1);
      if (!inner) return std::unexpected(inner.error());
      type = std::move(*inner);
    } else if (symbol("[")) {
      if (symbol("]")) {
        type.kind = Type::Kind::Array;
      } else if (keyword("string") && symbol("]")) {
        type.kind = Type::Kind::Map;
      } else {
        return failure("expected [] or [string]");
      }
      auto element = any_type(depth + 1);
      if (!element) return std::unexpected(element.error());
      type.element = std::make_shared<const Type>(std::move(*element));
    } else {
      const std::string name = word();
      static const std::map<std::string_view, Type::Kind> kBuiltins = {
          {"bool", Type::Kind::Bool},     {"int", Type::Kind::Int},
          {"float", Type::Kind::Float},   {"string", Type::Kind::String},
          {"object", Type::Kind::Object},
      };
      if (name.empty()) return failure("expected a type");
      if (auto builtin = kBuiltins.find(name); builtin != kBuiltins.end()) {
        type.kind = builtin->second;
      } else {
        type.kind = Type::Kind::Named;
        type.name = name;
      }
    }
    type.nullable = nullable;
    return type;
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

std::string pointer_of(const std::string& parent, std::string_view key) {
  return parent + pointer_segment(key);
}

std::optional<Mismatch> check(const Interface& interface, const Type& type, const Json& value,
                              const std::string& path, int depth) {
  if (value.is_null()) {
    if (type.nullable) return std::nullopt;
    return Mismatch{path, "null where a value is required"};
  }
  // Type-driven: the recursion follows the IDL, never the value, except through named types,
  // which a recursive interface could repeat; bound that too.
  if (depth > 64) return Mismatch{path, "types nest too deeply"};
  using Kind = Type::Kind;
  switch (type.kind) {
    case Kind::Bool:
      if (!value.is_boolean()) return Mismatch{path, "expected a boolean"};
      return std::nullopt;
    case Kind::Int:
      if (!value.is_number_integer()) return Mismatch{path, "expected an integer"};
      return std::nullopt;
    case Kind::Float:
      if (!value.is_number()) return Mismatch{path, "expected a number"};
      return std::nullopt;
    case Kind::String:
      if (!value.is_string()) return Mismatch{path, "expected a string"};
      return std::nullopt;
    case Kind::Object:
      if (!value.is_object()) return Mismatch{path, "expected an object"};
      return std::nullopt;
    case Kind::Named: {
      auto found = interface.types.find(type.name);
      if (found == interface.types.end()) return Mismatch{path, cat("unknown type ", type.name)};
      return check(interface, found->second, value, path, depth + 1);
    }
    case Kind::Enum: {
      if (value.is_string() && std::find(type.values.begin(), type.values.end(),
                                         value.get<std::string>()) != type.values.end()) {
        return std::nullopt;
      }
      return Mismatch{path, cat("expected one of ", join(type.values, ", "))};
    }
    case Kind::Array:
      if (!value.is_array()) return Mismatch{path, "expected an array"};
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto bad = check(interface, *type.element, value[i], cat(path, '/', i), depth + 1)) {
          return bad;
        }
      }
      return std::nullopt;
    case Kind::Map:
      if (!value.is_object()) return Mismatch{path, "expected an object (a map)"};
      for (const auto& [key, item] : value.items()) {
        if (auto bad = check(interface, *type.element, item, pointer_of(path, key), depth + 1)) {
          return bad;
        }
      }
      return std::nullopt;
    case Kind::Struct: {
      if (!value.is_object()) return Mismatch{path, "expected an object"};
      for (const auto& [key, item] : value.items()) {
        const bool known = std::any_of(type.fields.begin(), type.fields.end(),
                                       [&](const Field& field) { return field.name == key; });
        if (!known) return Mismatch{pointer_of(path, key), "unknown field"};
      }
      for (const auto& field : type.fields) {
        const std::string at = pointer_of(path, field.name);
        auto item = value.find(field.name);
        if (item == value.end()) {
          if (field.type->nullable) continue;
          return Mismatch{at, "missing"};
        }
        if (auto bad = check(interface, *field.type, *item, at, depth + 1)) return bad;
      }
      return std::nullopt;
    }
  }
  return Mismatch{path, "unknown type"};
}

}  // namespace

const Method* Interface::find_method(std::string_view method) const {
  for (const auto& candidate : methods) {
    if (candidate.name == method) return &candidate;
  }
  return nullptr;
}

const ErrorType* Interface::find_error(std::string_view error) const {
  for (const auto& candidate : errors) {
    if (candidate.name == error) return &candidate;
  }
  return nullptr;
}

Result<Interface> parse_interface(std::string_view text) {
  return Parser(text).interface();
}

std::optional<Mismatch> check_value(const Interface& interface, const Type& type,
                                    const Json& value) {
  return check(interface, type, value, "", 0);
}

}  // namespace ipcrt::runtime::control::idl
