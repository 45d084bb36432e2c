// Framing, parsing and encoding of varlink messages.
#include "runtime/control/varlink_protocol.hpp"

#include <algorithm>
#include <cstring>

#include "common/text.hpp"

namespace ipcrt::runtime::control {
namespace {

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The nesting depth of a JSON text, strings skipped; an upper bound where it is malformed.
// Checked before parsing so that no deep structure is ever built from a client's bytes.
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

std::expected<Json, std::string> parse_object(std::string_view message, std::string_view what) {
  if (nesting_depth(message) > kMaxJsonDepth) {
    return std::unexpected(cat(what, " nests deeper than ", kMaxJsonDepth, " levels"));
  }
  Json document;
  try {
    document = Json::parse(message.begin(), message.end());
  } catch (const Json::parse_error& error) {
    // Only the offset: nlohmann's text quotes the offending bytes.
    return std::unexpected(cat(what, " is not valid JSON (byte ", error.byte, ")"));
  } catch (const Json::exception&) {
    // A number beyond a double's range (1E999999) is out_of_range, not a parse_error: a
    // client's request must never end the runtime.
    return std::unexpected(cat(what, " is not valid JSON (a number out of range)"));
  }
  if (!document.is_object()) return std::unexpected(cat(what, " is not a JSON object"));
  return document;
}

// A member that is absent or null reads as false; anything but a boolean is an error.
std::expected<bool, std::string> optional_bool(const Json& object, const char* key,
                                               std::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean())
    return std::unexpected(cat("\"", key, "\" of ", what, " is not a boolean"));
  return it->get<bool>();
}

std::string terminated(std::string text) {
  text.push_back('\0');
  return text;
}

}  // namespace

bool MessageFramer::append(std::string_view bytes) {
  if (bytes.size() > limit_ - std::min(limit_, held())) return false;
  // Drop what next() took before growing, so the buffer never holds more than the limit.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
  return true;
}

std::optional<std::string> MessageFramer::next() {
  const auto end = buffer_.find('\0', start_);
  if (end == std::string::npos) return std::nullopt;
  std::string message = buffer_.substr(start_, end - start_);
  start_ = end + 1;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return message;
}

bool valid_interface_name(std::string_view name) {
  std::size_t words = 0;
  std::size_t begin = 0;
  while (begin <= name.size()) {
    auto end = name.find('.', begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view word = name.substr(begin, end - begin);
    if (word.empty() || word.front() == '-' || word.back() == '-') return false;
    if (words == 0 && !is_letter(word.front())) return false;
    for (char c : word) {
      if (!is_letter(c) && !is_digit(c) && c != '-') return false;
    }
    ++words;
    begin = end + 1;
  }
  return words >= 2;
}

bool valid_member_name(std::string_view name) {
  if (name.empty() || name.front() < 'A' || name.front() > 'Z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_letter(c) || is_digit(c); });
}

std::expected<Call, std::string> parse_call(std::string_view message) {
  auto document = parse_object(message, "the call");
  if (!document) return std::unexpected(document.error());
  Call call;
  for (const auto& [key, value] : document->items()) {
    if (key == "method" || key == "parameters" || key == "oneway" || key == "more" ||
        key == "upgrade") {
      continue;
    }
    // Varlink lets vendors extend a call with members named in reverse-domain notation.
    if (key.find('.') != std::string::npos) continue;
    return std::unexpected(
        "the call has a member that is not method, parameters, oneway, more or upgrade");
  }
  auto method = document->find("method");
  if (method == document->end() || !method->is_string()) {
    return std::unexpected("the call has no \"method\" string");
  }
  call.method = method->get<std::string>();
  const auto dot = call.method.rfind('.');
  if (dot == std::string::npos || !valid_interface_name(call.method.substr(0, dot)) ||
      !valid_member_name(call.method.substr(dot + 1))) {
    return std::unexpected(
        "\"method\" is not INTERFACE.Method (such as io.ipcrt.Runtime.GetStatus)");
  }
  call.interface = call.method.substr(0, dot);
  call.member = call.method.substr(dot + 1);
  if (auto parameters = document->find("parameters");
      parameters != document->end() && !parameters->is_null()) {
    if (!parameters->is_object()) return std::unexpected("\"parameters\" is not an object");
    call.parameters = std::move(*parameters);
  }
  for (auto [key, flag] : {std::pair{"oneway", &call.oneway}, std::pair{"more", &call.more},
                           std::pair{"upgrade", &call.upgrade}}) {
    auto value = optional_bool(*document, key, "the call");
    if (!value) return std::unexpected(value.error());
    *flag = *value;
  }
  if (call.oneway && (call.more || call.upgrade)) {
    return std::unexpected("a oneway call cannot ask for more replies or an upgrade");
  }
  return call;
}

std::expected<Reply, std::string> parse_reply(std::string_view message) {
  auto document = parse_object(message, "the reply");
  if (!document) return std::unexpected(document.error());
  Reply reply;
  if (auto parameters = document->find("parameters");
      parameters != document->end() && !parameters->is_null()) {
    if (!parameters->is_object()) return std::unexpected("\"parameters\" is not an object");
    reply.parameters = std::move(*parameters);
  }
  auto continues = optional_bool(*document, "continues", "the reply");
  if (!continues) return std::unexpected(continues.error());
  reply.continues = *continues;
  if (auto error = document->find("error"); error != document->end() && !error->is_null()) {
    if (!error->is_string()) return std::unexpected("\"error\" is not a string");
    reply.error = error->get<std::string>();
  }
  return reply;
}

std::string encode_call(std::string_view method, const Json& parameters, bool more, bool oneway) {
  Json call = Json::object();
  call["method"] = method;
  call["parameters"] = parameters;
  if (more) call["more"] = true;
  if (oneway) call["oneway"] = true;
  return terminated(dump_json(call));
}

// Replies are written around the parameters' text rather than built as one object: that would
// copy the whole tree (GetStatus of 64 services, a batch of log lines) only to print it.
std::string encode_reply(const Json& parameters, bool continues) {
  std::string reply = "{\"parameters\":";
  reply += dump_json(parameters);
  if (continues) reply += ",\"continues\":true";
  reply += '}';
  return terminated(std::move(reply));
}

std::string encode_error(std::string_view error, const Json& parameters) {
  std::string reply = "{\"error\":";
  reply += dump_json(Json(error));
  reply += ",\"parameters\":";
  reply += dump_json(parameters);
  reply += '}';
  return terminated(std::move(reply));
}

}  // namespace ipcrt::runtime::control
