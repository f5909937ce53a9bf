# check_labels.cmake — the labels that cmake/LlmTesting.cmake applies after doctest_discover_tests
# (doctest 2.4.9 flattens and then overwrites LABELS) really are on every discovered case: for each
# flavour and suite, `ctest -L <flavour> -L lesson04 -L <suite>` must select exactly the tests whose
# names start with <flavour>/lesson04/<suite>/, and at least one. Run from the build folder.
function(count_tests out)
  execute_process(COMMAND "${CMAKE_CTEST_COMMAND}" -N ${ARGN} WORKING_DIRECTORY "${BUILD_DIR}"
                  OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ctest -N ${ARGN} failed:\n${text}")
  endif()
  string(REGEX MATCH "Total Tests: ([0-9]+)" _ "${text}")
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()
foreach(flavour reference student)
  foreach(suite basic advanced)
    count_tests(by_label -L "^${flavour}$" -L "^lesson04$" -L "^${suite}$")
    count_tests(by_name -R "^${flavour}/lesson04/${suite}/")
    if(by_name EQUAL 0)
      message(FATAL_ERROR "no test is named ${flavour}/lesson04/${suite}/...: discovery registered nothing")
    endif()
    if(NOT by_label EQUAL by_name)
      message(FATAL_ERROR "labels ${flavour};lesson04;${suite} select ${by_label} tests, the names ${by_name}: "
                          "a multi-value LABELS property was lost (doctest_discover_tests quirk)")
    endif()
    message(STATUS "${flavour}/lesson04/${suite}: ${by_name} cases, all labelled")
  endforeach()
endforeach()
