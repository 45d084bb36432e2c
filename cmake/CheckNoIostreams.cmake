# ctest script: fails when BINARY links libstdc++'s iostreams/locale machinery, which adds
# about 500 KB to a static binary (see docs/decisions.md). Run with -DNM=... -DBINARY=...
execute_process(COMMAND ${NM} -C ${BINARY} OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${BINARY}")
endif()
string(REGEX MATCHALL "[^\n]*std::(locale|ios_base)::[^\n]*" hits "${symbols}")
list(LENGTH hits count)
if(count GREATER 0)
  list(GET hits 0 first)
  message(FATAL_ERROR "${BINARY} links iostreams (${count} symbols, e.g. ${first}): "
                      "replace <sstream>/<fstream>/<iostream> with ipcrt::cat / read_text_file")
endif()
message(STATUS "${BINARY}: no iostream symbols")
