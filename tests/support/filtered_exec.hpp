// Runs a program under a seccomp filter the way `run` will: everything prepared before fork,
// then in the child only NO_NEW_PRIVS, the filter, execve. For the seccomp test suites.
#pragma once

#include <string>
#include <vector>

#include "platform/seccomp.hpp"
#include "tests/support/process.hpp"

namespace ipcrt::test {

// exit_code 127 and a message in `err` when the child could not load the filter or exec.
ProcessResult run_filtered(const platform::BpfProgram& program,
                           const std::vector<std::string>& argv);

// The errno the probe reports for `probe ARGS...` under `program`; -1 if it did not run.
int probe_errno(const platform::BpfProgram& program, const std::vector<std::string>& args);

std::string probe_path();  // the static probe built in tests/probe

}  // namespace ipcrt::test
