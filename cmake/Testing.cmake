# ipcrt_add_cpputest(NAME <name> SOURCES <files...> LIBRARIES <targets...> [NATIVE_KERNEL]
#                    [RUN_SERIAL])
# Builds one CppUTest executable and registers it with ctest. Cross builds run it under the
# CMAKE_CROSSCOMPILING_EMULATOR (qemu-user), which does not emulate seccomp or namespaces:
# suites marked NATIVE_KERNEL are built but only registered for native builds; on ARM they
# run inside a qemu-system image instead (see boards/ and scripts/image). RUN_SERIAL: a suite
# that changes machine-wide state others read (the fs.mqueue sysctls) runs alone under ctest -j.
#
# Every suite is also listed in ${PROJECT_BINARY_DIR}/ipcrt-suites.txt, one line
# "NAME<TAB>PATH-RELATIVE-TO-THE-BUILD-DIR<TAB>native-kernel|plain": scripts/image copies them
# into the test image, whose /init (tests/image/test_init.cpp) runs them on a real ARM kernel.
set(IPCRT_SUITE_LIST "${PROJECT_BINARY_DIR}/ipcrt-suites.txt")
file(WRITE "${IPCRT_SUITE_LIST}" "")
function(ipcrt_add_cpputest)
  cmake_parse_arguments(ARG "NATIVE_KERNEL;RUN_SERIAL" "NAME" "SOURCES;LIBRARIES" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/main.cpp)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBRARIES} ipcrt_test_support cpputest::cpputest)
  file(RELATIVE_PATH _suite_dir "${PROJECT_BINARY_DIR}" "${CMAKE_CURRENT_BINARY_DIR}")
  set(_suite_kind plain)
  if(ARG_NATIVE_KERNEL)
    set(_suite_kind native-kernel)
  endif()
  file(APPEND "${IPCRT_SUITE_LIST}" "${ARG_NAME}\t${_suite_dir}/${ARG_NAME}\t${_suite_kind}\n")
  if(ARG_NATIVE_KERNEL AND CMAKE_CROSSCOMPILING)
    return()
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} -v)
  set_tests_properties(${ARG_NAME} PROPERTIES
    ENVIRONMENT "IPCRT_BINARY=$<TARGET_FILE:ipcrt>;IPCRT_BUILD_DIR=${PROJECT_BINARY_DIR};IPCRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    TIMEOUT 300)
  if(CMAKE_CROSSCOMPILING_EMULATOR)
    # Tests exec ARM binaries; without binfmt_misc they must go through the emulator too.
    set_property(TEST ${ARG_NAME} APPEND PROPERTY ENVIRONMENT "IPCRT_EMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}")
  endif()
  if(ARG_NATIVE_KERNEL)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS native-kernel)
  endif()
  if(ARG_RUN_SERIAL)
    set_tests_properties(${ARG_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
