// libFuzzer target for the control socket's protocol reader (SPEC §10): any bytes, cut into
// chunks of a size the first byte picks, go through the NUL framer; every message through
// parse_call and parse_reply, and a call's parameters through the IDL check of its method.
// Beyond the sanitizers it checks the reader's contract: the framer never holds more than its
// limit, a parsed call has a well-formed method and object parameters, and no error quotes
// the input (a hostile client cannot put bytes of its own into a log or a terminal).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/control/interface_texts.hpp"
#include "runtime/control/varlink_idl.hpp"
#include "runtime/control/varlink_protocol.hpp"

namespace control = ipcrt::runtime::control;

namespace {

// Small, so that the overflow path is reached as often as the others.
constexpr std::size_t kLimit = 4096;

const control::idl::Interface& runtime_interface() {
  static const auto parsed = control::idl::parse_interface(control::runtime_interface_text());
  if (!parsed) std::abort();
  return *parsed;
}

void check_error_text(const std::string& error) {
  if (error.empty()) std::abort();
  for (char c : error) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();
  }
}

void handle(const std::string& message) {
  auto call = control::parse_call(message);
  if (!call) {
    check_error_text(call.error());
  } else {
    if (!control::valid_interface_name(call->interface) ||
        !control::valid_member_name(call->member) || !call->parameters.is_object() ||
        (call->oneway && call->more)) {
      std::abort();
    }
    const auto& interface = runtime_interface();
    if (const auto* method = interface.find_method(call->member)) {
      (void)control::idl::check_value(interface, method->input, call->parameters);
    }
    // A reply to it must encode whatever the parameters hold.
    (void)control::encode_reply(call->parameters);
  }
  auto reply = control::parse_reply(message);
  if (reply) {
    const auto* status = runtime_interface().find_method("GetStatus");
    (void)control::idl::check_value(runtime_interface(), status->output, reply->parameters);
  } else {
    check_error_text(reply.error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 97;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  control::MessageFramer framer(kLimit);
  for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
    if (!framer.append(stream.substr(offset, chunk))) break;  // the connection would end here
    if (framer.held() > kLimit) std::abort();
    while (auto message = framer.next()) handle(*message);
  }
  return 0;
}
