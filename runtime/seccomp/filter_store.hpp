// Compiled seccomp filters kept between runs (issue 21): libseccomp's compile was a third of
// a one-service `ipcrt run`'s CPU, and a program depends only on the service's filter_key(),
// this binary (its groups, its builder, the libseccomp linked into it), libseccomp's version
// and the kernel. An entry is used only if everything about it is as this process would have
// written it; anything else is ignored and compiled afresh, never trusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "platform/fd.hpp"
#include "platform/seccomp.hpp"

namespace ipcrt::runtime {

class FilterStore {
 public:
  // The store in `dir`, made (0700) if missing, or nullopt where it must not be used: not
  // root, no build id in this binary to key entries by, or `dir` not a directory of this
  // euid's with no access for group and others (checked on the opened directory, not
  // followed through a symlink).
  [[nodiscard]] static std::optional<FilterStore> open(const std::string& dir);

  // The program stored for `key`, or nullopt: none, or the entry is not a regular file of
  // this euid's with mode 0600 and one link, or its contents are not whole (checksum), or
  // it was written for another key, binary, libseccomp or kernel.
  [[nodiscard]] std::optional<platform::BpfProgram> load(std::string_view key) const;
  // Keeps `program` for `key` (written beside, then renamed into place). A store that
  // cannot be written costs only the next compile: failures are ignored.
  void save(std::string_view key, const platform::BpfProgram& program) const;

  // The entry's file name for `key`, inside the directory (for tests that tamper with it).
  [[nodiscard]] std::string entry_name(std::string_view key) const;
  // What every key is qualified with: build id, libseccomp version, kernel release, ABI.
  [[nodiscard]] const std::string& context() const { return context_; }

 private:
  FilterStore(platform::UniqueFd dir, std::string context)
      : dir_(std::move(dir)), context_(std::move(context)) {}
  platform::UniqueFd dir_;
  std::string context_;
};

// This executable's GNU build id (hex), "" when it has none.
[[nodiscard]] std::string own_build_id();

}  // namespace ipcrt::runtime
