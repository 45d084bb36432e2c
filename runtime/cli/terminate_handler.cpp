// Replaces libstdc++'s default terminate handler in the ipcrt binary. The stock one demangles the
// exception's type name, which links libstdc++'s whole demangler (~45 KB) into a binary meant to
// stay near 1 MB. Defining the symbol here keeps libstdc++'s vterminate.o (which holds only this
// function) out of the static link; the message keeps its shape, with the type name mangled.
// It must be an object of the executable itself, not of a static library: the linker has to
// see this definition before it scans libstdc++.a.
#include <cxxabi.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <typeinfo>

namespace {

// write(2), not stdio: the handler may run with stdio's locks held or its buffers damaged.
void write_stderr(const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, text, left);
    if (written <= 0) return;
    text += written;
    left -= static_cast<std::size_t>(written);
  }
}

}  // namespace

namespace __gnu_cxx {

// Same contract as libstdc++'s: report the active exception, if any, then abort().
void __verbose_terminate_handler() {
  // A throw from what() would call terminate again: report only the first time.
  static bool terminating = false;
  if (terminating) {
    write_stderr("terminate called recursively\n");
    std::abort();
  }
  terminating = true;

  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) {
    write_stderr("terminate called without an active exception\n");
    std::abort();
  }
  write_stderr("terminate called after throwing an instance of '");
  write_stderr(type->name());
  write_stderr("'\n");
  try {
    throw;
  } catch (const std::exception& error) {
    write_stderr("  what():  ");
    write_stderr(error.what());
    write_stderr("\n");
  } catch (...) {
  }
  std::abort();
}

}  // namespace __gnu_cxx
