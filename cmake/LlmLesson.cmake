# LlmLesson.cmake — build one lesson three ways from the same test sources:
#   student   the stubs in lessons/<dir>/ as the student has edited them (the student's own loop);
#   solution  the reference sources in solutions/<dir>/ (must pass everything);
#   pristine  the stubs exactly as committed at git HEAD (every test case must FAIL: the self-check).
# The contract headers and given sources live in lessons/<dir>/ and are shared by all three. Each
# suite's test sources are compiled once (an OBJECT library, <lessonNN>_<suite>_tests) and linked into
# every flavour's program.
#
# Grading (./llm grade, tools/grade/; see docs/grading.md) reuses the student flavour:
#   LLM_GRADING=ON             only the student flavour is built, its test programs are NOT registered with
#                              ctest and nothing runs at build time (the grader runs every case itself, in
#                              a sandbox); the solution library stays defined, EXCLUDE_FROM_ALL, for later
#                              lessons that link it;
#   LLM_STUDENT_LESSONS_DIR    where the student flavour's STUB files come from
#                              (<dir>/<lesson folder>/<stub>.cpp); headers, given sources and the
#                              official tests always come from this repository. A stub missing there
#                              is replaced by the stub as committed (it then fails every case).
#   LLM_HIDDEN_TESTS_DIR       extra test sources: <dir>/<lessonNN>/*.cpp (or <dir>/<lesson folder>/*.cpp)
#                              become the suite "hidden" (ctest label hidden) of the student and
#                              solution flavours.
#   LLM_GRADING_LAUNCHER       a command list put in front of every compile of a student library
#                              (CXX_COMPILER_LAUNCHER): the grader's compile sandbox.
# Each configure writes <build>/llm_lessons/<lessonNN>.json, the manifest the tools read, and
# llm_lessons/index.json, the lessons in order (llm_write_lesson_index, called by lessons/CMakeLists.txt).

set(LLM_SELF_CHECK ON CACHE BOOL "Build the pristine stubs and the every-case-fails self-check")
set(LLM_STUDENT_LESSONS_DIR "${PROJECT_SOURCE_DIR}/lessons" CACHE PATH
    "Folder shaped like lessons/ whose <lesson folder>/<stub>.cpp files the student flavour compiles")
set(LLM_HIDDEN_TESTS_DIR "" CACHE PATH
    "Folder of hidden test sources: <dir>/<lessonNN>/*.cpp become the suite 'hidden' (empty: none)")
set(LLM_GRADING_LAUNCHER "" CACHE STRING "Grading only: the command that wraps each compile of student code")

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

# JSON string literal of a CMake string (paths and names only: quotes and backslashes escaped).
function(_llm_json_string value out_var)
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  set(${out_var} "\"${value}\"" PARENT_SCOPE)
endfunction()

function(_llm_json_list out_var)
  set(items "")
  foreach(item IN LISTS ARGN)
    _llm_json_string("${item}" quoted)
    list(APPEND items "${quoted}")
  endforeach()
  string(JOIN ", " joined ${items})
  set(${out_var} "[${joined}]" PARENT_SCOPE)
endfunction()

# llm_add_lesson(<lessonNN> DIR <folder> STUBS <files> [GIVEN <files>] [DEPS <libs>]
#                BASIC_TESTS <files> ADVANCED_TESTS <files>)
# Keep the arguments literal (no variables): tools/grade reads STUBS from the lesson's CMakeLists.txt.
function(llm_add_lesson name)
  cmake_parse_arguments(ARG "" "DIR" "STUBS;GIVEN;DEPS;BASIC_TESTS;ADVANCED_TESTS" ${ARGN})
  set(lesson_dir "${PROJECT_SOURCE_DIR}/lessons/${ARG_DIR}")
  set(solution_dir "${PROJECT_SOURCE_DIR}/solutions/${ARG_DIR}")
  list(TRANSFORM ARG_GIVEN PREPEND "${lesson_dir}/" OUTPUT_VARIABLE given)

  # The student's stubs: from LLM_STUDENT_LESSONS_DIR, each missing one replaced by the committed stub.
  set(student_srcs "")
  set(missing_stubs "")
  foreach(stub IN LISTS ARG_STUBS)
    set(src "${LLM_STUDENT_LESSONS_DIR}/${ARG_DIR}/${stub}")
    if(NOT EXISTS "${src}")
      _llm_pristine_copy("lessons/${ARG_DIR}/${stub}" src)
      list(APPEND missing_stubs "${stub}")
      message(STATUS "${name}: ${stub} is not in ${LLM_STUDENT_LESSONS_DIR}/${ARG_DIR}; "
                     "the student flavour uses the stub as committed")
    endif()
    list(APPEND student_srcs "${src}")
  endforeach()
  list(TRANSFORM ARG_STUBS PREPEND "${solution_dir}/" OUTPUT_VARIABLE solution_srcs)

  if(LLM_GRADING)
    set(flavours student)
  else()
    set(flavours student solution)
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
  endif()

  # Hidden tests (instructor only): <LLM_HIDDEN_TESTS_DIR>/<lessonNN>/*.cpp or .../<lesson folder>/*.cpp.
  set(hidden_srcs "")
  if(LLM_HIDDEN_TESTS_DIR)
    foreach(sub IN ITEMS "${name}" "${ARG_DIR}")
      file(GLOB found CONFIGURE_DEPENDS "${LLM_HIDDEN_TESTS_DIR}/${sub}/*.cpp")
      list(APPEND hidden_srcs ${found})
    endforeach()
    list(REMOVE_DUPLICATES hidden_srcs)
  endif()
  set(suites basic advanced)
  if(hidden_srcs)
    list(APPEND suites hidden)
  endif()

  foreach(flavour IN LISTS flavours)
    add_library(${name}_${flavour} STATIC ${${flavour}_srcs} ${given})
    target_include_directories(${name}_${flavour} PUBLIC "${lesson_dir}")
    target_link_libraries(${name}_${flavour} PUBLIC ${ARG_DEPS} llm_common PRIVATE llm_warnings)
  endforeach()
  if(LLM_GRADING AND LLM_GRADING_LAUNCHER)
    set_target_properties(${name}_student PROPERTIES CXX_COMPILER_LAUNCHER "${LLM_GRADING_LAUNCHER}")
  endif()

  if(BUILD_TESTING)
    foreach(suite IN LISTS suites)
      string(TOUPPER "${suite}" SUITE)
      if(suite STREQUAL "hidden")
        set(test_srcs ${hidden_srcs})
      else()
        list(TRANSFORM ARG_${SUITE}_TESTS PREPEND "${lesson_dir}/" OUTPUT_VARIABLE test_srcs)
      endif()
      # The suite's test sources are compiled once and linked into every flavour's program.
      set(objs ${name}_${suite}_tests)
      add_library(${objs} OBJECT ${test_srcs})
      target_include_directories(${objs} PRIVATE "${lesson_dir}")
      target_link_libraries(${objs} PRIVATE ${ARG_DEPS} llm_common llm_test_support llm_warnings)
      foreach(flavour IN LISTS flavours)
        set(exe ${name}_${suite}_${flavour})
        if(flavour STREQUAL "pristine" AND suite STREQUAL "hidden")
          continue()  # hidden tests are not committed, so the self-check does not cover them
        endif()
        if(flavour STREQUAL "pristine" OR LLM_GRADING)
          # Not registered case by case. Pristine: the self-check below runs every case and expects a
          # failure. Grading: the grader lists and runs the cases itself, each in its own sandboxed
          # process (no doctest discovery either, which would run student code at build time).
          add_executable(${exe} $<TARGET_OBJECTS:${objs}>)
          target_link_libraries(${exe} PRIVATE llm_doctest_main llm_test_support ${name}_${flavour} llm_warnings)
          if(flavour STREQUAL "pristine")
            add_test(NAME "selfcheck/${name}/${suite}/every-case-fails-on-the-pristine-stubs"
                     COMMAND ${CMAKE_COMMAND} -D "EXE=$<TARGET_FILE:${exe}>"
                             -P "${PROJECT_SOURCE_DIR}/cmake/ExpectAllFail.cmake")
            set_tests_properties("selfcheck/${name}/${suite}/every-case-fails-on-the-pristine-stubs"
                                 PROPERTIES LABELS "selfcheck;${name};${suite}" TIMEOUT 900)
          endif()
        else()
          llm_add_doctest(${exe}
            PREFIX "${flavour}/${name}/${suite}/"
            SOURCES $<TARGET_OBJECTS:${objs}>
            LIBS ${name}_${flavour}
            LABELS ${flavour} ${name} ${suite})
        endif()
      endforeach()
      if(LLM_GRADING)
        # The case list of the suite whatever the student's code does: the same test objects linked
        # against the stubs as committed, never run as tests (./llm grade lists a lesson that does
        # not compile case by case, each worth 0).
        if(NOT TARGET ${name}_caselist_stubs)
          set(caselist_srcs "")
          foreach(stub IN LISTS ARG_STUBS)
            _llm_pristine_copy("lessons/${ARG_DIR}/${stub}" copied)
            list(APPEND caselist_srcs "${copied}")
          endforeach()
          add_library(${name}_caselist_stubs STATIC EXCLUDE_FROM_ALL ${caselist_srcs} ${given})
          target_include_directories(${name}_caselist_stubs PUBLIC "${lesson_dir}")
          target_link_libraries(${name}_caselist_stubs PUBLIC ${ARG_DEPS} llm_common PRIVATE llm_warnings)
        endif()
        add_executable(${name}_${suite}_caselist EXCLUDE_FROM_ALL $<TARGET_OBJECTS:${objs}>)
        target_link_libraries(${name}_${suite}_caselist PRIVATE llm_doctest_main llm_test_support
                                                                ${name}_caselist_stubs llm_warnings)
      endif()
    endforeach()
  endif()

  if(LLM_GRADING)
    # Later lessons may link this lesson's reference: keep it defined, built only when one does.
    add_library(${name}_solution STATIC EXCLUDE_FROM_ALL ${solution_srcs} ${given})
    target_include_directories(${name}_solution PUBLIC "${lesson_dir}")
    target_link_libraries(${name}_solution PUBLIC ${ARG_DEPS} llm_common PRIVATE llm_warnings)
  endif()
  # The reference library under a stable name for later lessons, tools and benchmarks.
  add_library(${name}::reference ALIAS ${name}_solution)

  # The manifest for tools/grade: which folder, which stubs (and where they were taken from), which suites.
  _llm_json_string("${name}" j_name)
  _llm_json_string("${ARG_DIR}" j_dir)
  _llm_json_list(j_stubs ${ARG_STUBS})
  _llm_json_list(j_srcs ${student_srcs})
  _llm_json_list(j_missing ${missing_stubs})
  _llm_json_list(j_suites ${suites})
  _llm_json_list(j_hidden ${hidden_srcs})
  if(BUILD_TESTING)
    set(j_testing true)
  else()
    set(j_testing false)
  endif()
  _llm_json_list(j_given ${ARG_GIVEN})
  set_property(GLOBAL APPEND PROPERTY LLM_LESSON_NAMES ${name})
  file(WRITE "${CMAKE_BINARY_DIR}/llm_lessons/${name}.json.tmp"
    "{\n"
    "  \"name\": ${j_name},\n"
    "  \"dir\": ${j_dir},\n"
    "  \"stubs\": ${j_stubs},\n"
    "  \"given\": ${j_given},\n"
    "  \"student_sources\": ${j_srcs},\n"
    "  \"stubs_missing_from_student_dir\": ${j_missing},\n"
    "  \"suites\": ${j_suites},\n"
    "  \"hidden_sources\": ${j_hidden},\n"
    "  \"testing\": ${j_testing}\n"
    "}\n")
  file(COPY_FILE "${CMAKE_BINARY_DIR}/llm_lessons/${name}.json.tmp" "${CMAKE_BINARY_DIR}/llm_lessons/${name}.json"
       ONLY_IF_DIFFERENT)
  file(REMOVE "${CMAKE_BINARY_DIR}/llm_lessons/${name}.json.tmp")
endfunction()

# llm_lessons/index.json: the names of the lessons this configure defined, in order (a lesson removed from
# the course disappears from it even though its old manifest file may linger).
function(llm_write_lesson_index)
  get_property(names GLOBAL PROPERTY LLM_LESSON_NAMES)
  _llm_json_list(j_names ${names})
  file(CONFIGURE OUTPUT "${CMAKE_BINARY_DIR}/llm_lessons/index.json" CONTENT "{\"lessons\": ${j_names}}\n" @ONLY)
endfunction()
