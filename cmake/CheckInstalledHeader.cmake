# ctest script: installs the tree (`cmake --install`) into a scratch prefix and builds a C and a
# C++ program against ipcrt/service.h the way a service outside this tree does, with nothing but
# `pkg-config --cflags --libs ipcrt` (dist/pkgconfig/ipcrt.pc.in). Run with -DBUILD=... -DSOURCE=...
# -DCC=... -DCXX=... -DSCRATCH=...
file(REMOVE_RECURSE ${SCRATCH})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${SCRATCH}/usr
                RESULT_VARIABLE status OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD} failed")
endif()
foreach(installed include/ipcrt/service.h share/pkgconfig/ipcrt.pc)
  if(NOT EXISTS ${SCRATCH}/usr/${installed})
    message(FATAL_ERROR "cmake --install did not install ${installed}")
  endif()
endforeach()
# Only the scratch prefix: a system-wide ipcrt.pc must not make this pass.
set(ENV{PKG_CONFIG_LIBDIR} ${SCRATCH}/usr/share/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs ipcrt OUTPUT_VARIABLE flags
                RESULT_VARIABLE status OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find the installed ipcrt.pc")
endif()
if(NOT flags MATCHES "-I${SCRATCH}/usr/share/pkgconfig/../../include")
  message(FATAL_ERROR "pkg-config --cflags ipcrt does not name the installed include dir: ${flags}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND ${CC} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror
                        ${SOURCE}/tests/services/pass_queues_probe.c -o ${SCRATCH}/probe-c ${flags}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "a C program does not build against the installed ipcrt/service.h")
endif()
file(WRITE ${SCRATCH}/client.cpp
     "#include <ipcrt/service.h>\nint main() { return ipcrt_ready() < 0 || ipcrt_listen_fds() != 0; }\n")
execute_process(COMMAND ${CXX} -std=c++17 -Wall -Wextra -Werror ${SCRATCH}/client.cpp
                        -o ${SCRATCH}/probe-cxx ${flags}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "a C++ program does not build against the installed ipcrt/service.h")
endif()
execute_process(COMMAND ${SCRATCH}/probe-cxx RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the C++ client built against the installed header failed (${status})")
endif()
file(REMOVE_RECURSE ${SCRATCH})
message(STATUS "ipcrt/service.h installs with its pkg-config file; C and C++ clients build")
