# LlmTesting.cmake — one ctest test per doctest case, with labels, a timeout and skip detection.
#
# doctest_discover_tests (doctest 2.4.9) registers each TEST_CASE as its own ctest test, so a case
# that crashes or hangs costs only itself. Its own PROPERTIES/LABELS handling flattens lists and
# then overwrites LABELS, so labels are applied here instead, by a second ctest include file that
# runs after doctest's and sets properties on the list of discovered tests.

include(doctest)

# One compiled doctest main shared by every test program (compiling doctest's implementation once
# keeps the build fast).
if(NOT TARGET llm_doctest_main)
  # file(CONFIGURE) rewrites only when the content changes, so a reconfigure recompiles nothing.
  file(CONFIGURE OUTPUT "${CMAKE_BINARY_DIR}/generated/doctest_main.cpp"
       CONTENT "#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN\n#include <doctest/doctest.h>\n")
  add_library(llm_doctest_main STATIC "${CMAKE_BINARY_DIR}/generated/doctest_main.cpp")
  target_link_libraries(llm_doctest_main PUBLIC doctest::doctest)
endif()

# Per-case timeout (seconds). A hanging case is stopped by ctest and reported as a timeout.
set(LLM_TEST_TIMEOUT 120 CACHE STRING "ctest timeout of one test case, in seconds")

# llm_add_doctest(<target> PREFIX <name prefix> SOURCES ... LIBS ... LABELS ...)
function(llm_add_doctest target)
  cmake_parse_arguments(ARG "" "PREFIX" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE llm_doctest_main llm_test_support ${ARG_LIBS} llm_warnings)
  # Discovery runs the program at build time (--list-test-cases), and ctest runs each case, through this
  # "emulator": code before main that never returns fails the build after LLM_TEST_TIMEOUT seconds instead
  # of hanging it (coreutils' timeout passes a crash's signal on, so ctest still reports SEGFAULT).
  set_target_properties(${target} PROPERTIES CROSSCOMPILING_EMULATOR "timeout;--kill-after=5;${LLM_TEST_TIMEOUT}")
  doctest_discover_tests(${target}
    TEST_PREFIX "${ARG_PREFIX}"
    TEST_LIST ${target}_TESTS
    WORKING_DIRECTORY "${CMAKE_BINARY_DIR}")
  string(JOIN ";" labels ${ARG_LABELS})
  set(props "${CMAKE_CURRENT_BINARY_DIR}/${target}_props.cmake")
  file(WRITE "${props}"
    "if(${target}_TESTS)\n"
    "  set_tests_properties(\${${target}_TESTS} PROPERTIES\n"
    "    LABELS \"${labels}\"\n"
    "    TIMEOUT ${LLM_TEST_TIMEOUT}\n"
    "    SKIP_REGULAR_EXPRESSION \"\\\\[llm-skip\\\\]\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${props}")
endfunction()
