# check_isolation.cmake — proves that one bad doctest case costs only itself. Runs ctest on the probe
# cases of tests/errors/robustness/ (LLM_ROBUSTNESS_PROBE=1 makes them visible) and requires:
#   "probe passes"                      Passed, although its siblings crash, throw and hang;
#   "probe throws like an unfinished stub"  Failed (doctest reports the exception, exit status 1);
#   "probe segfaults"                   Exception: SegFault (under the asan preset, where ASan's signal
#                                       handler reports the crash and aborts: Subprocess aborted);
#   "probe never returns"               Timeout, after the 3 s TIMEOUT given by llm_add_doctest.
# Usage: cmake -D CTEST=<ctest> -D DIR=<build dir of robustness/> [-D SANITIZED=ON] -P check_isolation.cmake
set(ENV{LLM_ROBUSTNESS_PROBE} 1)
# -L: the labels set by llm_add_doctest's property file select them, which checks that it ran too.
execute_process(COMMAND "${CTEST}" --test-dir "${DIR}" -L robustness-probe --parallel 4 --no-tests=error
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 100)
set(all "${out}${err}")
if(rc STREQUAL "0")
  message(FATAL_ERROR "ctest passed every probe case; three of them must fail:\n${all}")
endif()

set(problems "")
# kind: the text ctest prints after the dots of the case's line.
function(expect case kind)
  string(REGEX MATCH "Test +#[0-9]+: framework/robustness-probe/${case} \\.*[^\n]*" line "${all}")
  if(line STREQUAL "")
    set(problems "${problems}\n  '${case}' did not run" PARENT_SCOPE)
  elseif(NOT line MATCHES "${kind}")
    set(problems "${problems}\n  '${case}': expected '${kind}', got: ${line}" PARENT_SCOPE)
  else()
    message(STATUS "${line}")
  endif()
endfunction()

expect("probe passes" " Passed ")
expect("probe throws like an unfinished stub" "\\*\\*\\*Failed ")
if(SANITIZED)
  expect("probe segfaults" "\\*\\*\\*Exception: SegFault|Subprocess aborted")
else()
  expect("probe segfaults" "\\*\\*\\*Exception: SegFault")
endif()
expect("probe never returns" "\\*\\*\\*Timeout +[2-9]\\.[0-9]+ sec")
if(NOT all MATCHES "25% tests passed, 3 tests failed out of 4")
  string(APPEND problems "\n  expected exactly 1 of 4 probe cases to pass")
endif()
if(NOT problems STREQUAL "")
  message(FATAL_ERROR "a bad test case is not isolated:${problems}\nctest output:\n${all}")
endif()
message(STATUS "one bad case costs only itself: 1 passed, 1 failed, 1 crashed, 1 timed out")
