// The varlink interface definitions the control socket serves, embedded at build time from
// runtime/control/io.ipcrt.Runtime.varlink and org.varlink.service.varlink (the reference;
// see cmake/EmbedInterfaces.cmake).
#pragma once

#include <string_view>

namespace ipcrt::runtime::control {

[[nodiscard]] std::string_view runtime_interface_text();  // io.ipcrt.Runtime
[[nodiscard]] std::string_view service_interface_text();  // org.varlink.service

}  // namespace ipcrt::runtime::control
