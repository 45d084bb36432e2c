# Finds the chosen dependencies as Debian (multiarch) installs them. Static archives are
# preferred because every ipcrt binary is linked with -static.

set(_ipcrt_multiarch_dirs)
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(APPEND _ipcrt_multiarch_dirs /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()

# libseccomp: used by the policy compiler in the parent only; the child loads raw BPF.
find_path(SECCOMP_INCLUDE_DIR seccomp.h REQUIRED)
find_library(SECCOMP_LIBRARY NAMES libseccomp.a seccomp HINTS ${_ipcrt_multiarch_dirs} REQUIRED)
add_library(seccomp::seccomp UNKNOWN IMPORTED)
set_target_properties(seccomp::seccomp PROPERTIES
  IMPORTED_LOCATION "${SECCOMP_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${SECCOMP_INCLUDE_DIR}")

# nlohmann-json: header-only and architecture-independent.
find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp REQUIRED)
add_library(nlohmann::json INTERFACE IMPORTED)
set_target_properties(nlohmann::json PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${NLOHMANN_JSON_INCLUDE_DIR}")

# CppUTest: Debian's CppUTestConfig.cmake computes a wrong prefix, so headers and static
# archives are found directly.
if(IPCRT_BUILD_TESTS)
  find_path(CPPUTEST_INCLUDE_DIR CppUTest/TestHarness.h REQUIRED)
  find_library(CPPUTEST_LIBRARY NAMES libCppUTest.a HINTS ${_ipcrt_multiarch_dirs} REQUIRED)
  find_library(CPPUTEST_EXT_LIBRARY NAMES libCppUTestExt.a HINTS ${_ipcrt_multiarch_dirs} REQUIRED)
  add_library(cpputest::cpputest INTERFACE IMPORTED)
  set_target_properties(cpputest::cpputest PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CPPUTEST_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${CPPUTEST_EXT_LIBRARY};${CPPUTEST_LIBRARY}"
    # Its new/delete macros break standard headers included after TestHarness.h.
    INTERFACE_COMPILE_DEFINITIONS CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
endif()
