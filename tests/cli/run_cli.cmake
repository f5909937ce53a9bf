# run_cli.cmake — run EXE with ARGS (a ;-list), require exit status EXPECT_RC and output matching
# EXPECT_REGEX (stdout and stderr together). When the model is missing and $LLM_REQUIRE_MODEL is not
# set, a case that needs it prints "[llm-skip]" and ctest reports it as skipped.
execute_process(COMMAND "${EXE}" ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
set(all "${out}${err}")
if(NOT EXPECT_RC STREQUAL "1" AND all MATCHES "model files \\(stories260K.bin and tok512.bin\\) not found"
   AND ("$ENV{LLM_REQUIRE_MODEL}" STREQUAL "" OR "$ENV{LLM_REQUIRE_MODEL}" STREQUAL "0"))
  message("[llm-skip] stories260K not found; this CLI case needs it")
  return()
endif()
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "generate ${ARGS}: exit status ${rc}, expected ${EXPECT_RC}\n${all}")
endif()
if(NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "generate ${ARGS}: output does not match '${EXPECT_REGEX}':\n${all}")
endif()
