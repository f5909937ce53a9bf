# LlmModelSearch.cmake — the compile definitions common/src/model_files.cpp needs: the repository root
# and the folders listed in common/model_search_path.txt. Shared by the main build and fuzz/, which
# compiles model_files.cpp again with clang.
#   llm_model_search_definitions(<repo-root> <out-var>)
function(llm_model_search_definitions repo out)
  set(list_file "${repo}/common/model_search_path.txt")
  file(STRINGS "${list_file}" dirs REGEX "^[^#]")
  list(JOIN dirs ":" dirs)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${list_file}")
  set(${out} "LLM_SOURCE_DIR=\"${repo}\";LLM_MODEL_SEARCH_DIRS=\"${dirs}\"" PARENT_SCOPE)
endfunction()
