# run_cli.cmake — run EXE with ARGS (a ;-list), require exit status EXPECT_RC and output matching
# EXPECT_REGEX (stdout and stderr together).
execute_process(COMMAND "${EXE}" ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
set(all "${out}${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "generate ${ARGS}: exit status ${rc}, expected ${EXPECT_RC}\n${all}")
endif()
if(NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "generate ${ARGS}: output does not match '${EXPECT_REGEX}':\n${all}")
endif()
