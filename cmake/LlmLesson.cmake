# LlmLesson.cmake — build one lesson three ways from the same test sources:
#   student   the stubs in lessons/<dir>/ as the student has edited them (the student's own loop);
#   solution  the reference sources in solutions/<dir>/ (must pass everything);
#   pristine  the stubs exactly as committed at git HEAD (every test case must FAIL: the self-check).
# The contract headers and given sources live in lessons/<dir>/ and are shared by all three.

set(LLM_SELF_CHECK ON CACHE BOOL "Build the pristine stubs and the every-case-fails self-check")

# Copy lessons/<dir>/<file> as committed at HEAD into the build tree (the working copy when the file
# is not in git yet or git is unavailable), so a student's edits in progress never affect the check.
function(_llm_pristine_copy rel_path out_var)
  set(dst "${CMAKE_BINARY_DIR}/pristine/${rel_path}")
  set(tmp "${dst}.tmp")
  get_filename_component(dst_dir "${dst}" DIRECTORY)
  file(MAKE_DIRECTORY "${dst_dir}")
  execute_process(COMMAND git -C "${PROJECT_SOURCE_DIR}" show "HEAD:${rel_path}"
                  OUTPUT_FILE "${tmp}" RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    file(COPY_FILE "${PROJECT_SOURCE_DIR}/${rel_path}" "${tmp}")
  endif()
  file(COPY_FILE "${tmp}" "${dst}" ONLY_IF_DIFFERENT)
  file(REMOVE "${tmp}")
  set(${out_var} "${dst}" PARENT_SCOPE)
endfunction()

# llm_add_lesson(<lessonNN> DIR <folder> STUBS <files> [GIVEN <files>] [DEPS <libs>]
#                BASIC_TESTS <files> ADVANCED_TESTS <files>)
function(llm_add_lesson name)
  cmake_parse_arguments(ARG "" "DIR" "STUBS;GIVEN;DEPS;BASIC_TESTS;ADVANCED_TESTS" ${ARGN})
  set(lesson_dir "${PROJECT_SOURCE_DIR}/lessons/${ARG_DIR}")
  set(solution_dir "${PROJECT_SOURCE_DIR}/solutions/${ARG_DIR}")
  list(TRANSFORM ARG_GIVEN PREPEND "${lesson_dir}/" OUTPUT_VARIABLE given)

  set(flavours student solution)
  list(TRANSFORM ARG_STUBS PREPEND "${lesson_dir}/" OUTPUT_VARIABLE student_srcs)
  list(TRANSFORM ARG_STUBS PREPEND "${solution_dir}/" OUTPUT_VARIABLE solution_srcs)
  if(LLM_SELF_CHECK)
    list(APPEND flavours pristine)
    set(pristine_srcs "")
    foreach(stub IN LISTS ARG_STUBS)
      _llm_pristine_copy("lessons/${ARG_DIR}/${stub}" copied)
      list(APPEND pristine_srcs "${copied}")
    endforeach()
    if(EXISTS "${PROJECT_SOURCE_DIR}/.git/index")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/.git/index")
    endif()
  endif()

  foreach(flavour IN LISTS flavours)
    add_library(${name}_${flavour} STATIC ${${flavour}_srcs} ${given})
    target_include_directories(${name}_${flavour} PUBLIC "${lesson_dir}")
    target_link_libraries(${name}_${flavour} PUBLIC ${ARG_DEPS} llm_common PRIVATE llm_warnings)
    if(NOT BUILD_TESTING)
      continue()
    endif()
    foreach(suite basic advanced)
      string(TOUPPER "${suite}" SUITE)
      list(TRANSFORM ARG_${SUITE}_TESTS PREPEND "${lesson_dir}/" OUTPUT_VARIABLE test_srcs)
      set(exe ${name}_${suite}_${flavour})
      if(flavour STREQUAL "pristine")
        # Not registered case by case: the self-check below runs every case and expects a failure.
        add_executable(${exe} ${test_srcs})
        target_link_libraries(${exe} PRIVATE llm_doctest_main llm_test_support ${name}_${flavour} llm_warnings)
        add_test(NAME "selfcheck/${name}/${suite}/every-case-fails-on-the-pristine-stubs"
                 COMMAND ${CMAKE_COMMAND} -D "EXE=$<TARGET_FILE:${exe}>"
                         -P "${PROJECT_SOURCE_DIR}/cmake/ExpectAllFail.cmake")
        set_tests_properties("selfcheck/${name}/${suite}/every-case-fails-on-the-pristine-stubs"
                             PROPERTIES LABELS "selfcheck;${name};${suite}" TIMEOUT 900)
      else()
        llm_add_doctest(${exe}
          PREFIX "${flavour}/${name}/${suite}/"
          SOURCES ${test_srcs}
          LIBS ${name}_${flavour}
          LABELS ${flavour} ${name} ${suite})
      endif()
    endforeach()
  endforeach()
  # The reference library under a stable name for later lessons, tools and benchmarks.
  add_library(${name}::reference ALIAS ${name}_solution)
endfunction()
