// Readers of the service keys of SPEC §4a (devices, capabilities, state-directory,
// writable-paths), §11 (the lifecycle), §13 (resources) and §15 (`$` in command), and of the
// top-level `failure-action`: each reads what it can into the model and reports the rest at its
// JSON pointer. Internal to config/ (it brings nlohmann along); parser.cpp calls them.
#pragma once

#include <string>

#include "config/json_reader.hpp"
#include "config/manifest.hpp"

namespace ipcrt::config {

// §11, §13 and §4a: type, start-timeout-ms, stop-signal, stop-timeout-ms, watchdog-ms,
// restart-limit, critical, pass-queues, resources, devices, capabilities, state-directory and
// writable-paths, those present in `object`.
void read_service_keys(JsonReader& reader, const Json& object, Service& service);

// Rules across keys of one service, once every key is read (oneshot and restart, watchdog and
// type, capabilities and seccomp, pass-queues without queues, writable paths and the runtime's
// directories). `manifest_name` locates the state directory.
void check_service_keys(JsonReader& reader, const Service& service,
                        const std::string& manifest_name);

// §15: `$` in command[0] and in the arguments (syntax only; names wait for `plan`).
void check_command_syntax(JsonReader& reader, const Service& service);

// The top-level `failure-action`.
void read_failure_action(JsonReader& reader, const Json& document, Manifest& manifest);

// Rules across services: a failure-action that no critical service can trigger.
void check_failure_action(JsonReader& reader, const Manifest& manifest);

}  // namespace ipcrt::config
