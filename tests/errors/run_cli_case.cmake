# run_cli_case.cmake — tests/cli/run_cli.cmake (RUN_CLI) with the real model files substituted for the
# placeholders @CHECKPOINT@ and @TOKENIZER@ in ARGS. They are searched like llm::find_model() does:
# $LLM_MODEL_DIR, SOURCE_DIR/models/stories260K, SOURCE_DIR/../shared/models/stories260K. Without them
# the case is skipped ([llm-skip]), or fails when $LLM_REQUIRE_MODEL is set.
if(ARGS MATCHES "@CHECKPOINT@|@TOKENIZER@")
  set(model_dir "")
  foreach(dir "$ENV{LLM_MODEL_DIR}" "${SOURCE_DIR}/models/stories260K" "${SOURCE_DIR}/../shared/models/stories260K")
    if(NOT dir STREQUAL "" AND EXISTS "${dir}/stories260K.bin" AND EXISTS "${dir}/tok512.bin")
      set(model_dir "${dir}")
      break()
    endif()
  endforeach()
  if(model_dir STREQUAL "")
    if(NOT "$ENV{LLM_REQUIRE_MODEL}" STREQUAL "" AND NOT "$ENV{LLM_REQUIRE_MODEL}" STREQUAL "0")
      message(FATAL_ERROR "stories260K is required ($LLM_REQUIRE_MODEL is set) but was not found")
    endif()
    message("[llm-skip] stories260K not found; this CLI case needs its files")
    return()
  endif()
  string(REPLACE "@CHECKPOINT@" "${model_dir}/stories260K.bin" ARGS "${ARGS}")
  string(REPLACE "@TOKENIZER@" "${model_dir}/tok512.bin" ARGS "${ARGS}")
endif()
include("${RUN_CLI}")
