# ctest script: strips BINARY into a copy and fails when the copy is larger than LIMIT bytes
# (SPEC §9: a static aarch64 binary of about a megabyte). Run with -DSTRIP= -DBINARY= -DLIMIT=.
get_filename_component(stripped "${BINARY}.size-check" ABSOLUTE)
execute_process(COMMAND ${STRIP} -o ${stripped} ${BINARY} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${STRIP} failed on ${BINARY}")
endif()
file(SIZE ${stripped} bytes)
file(REMOVE ${stripped})
math(EXPR kib "${bytes} / 1024")
math(EXPR limit_kib "${LIMIT} / 1024")
if(bytes GREATER LIMIT)
  message(FATAL_ERROR "${BINARY} is ${kib} KiB stripped, over its budget of ${limit_kib} KiB: "
                      "see docs/decisions.md, \"Binary size\", for what it costs and where to cut")
endif()
message(STATUS "${BINARY}: ${kib} KiB stripped (budget ${limit_kib} KiB)")
