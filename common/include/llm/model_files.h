// model_files.h — where the stories260K files are: an explicit path, $LLM_MODEL_DIR, models/ in the
// repository, ../shared/models/ beside it. Downloading (curl + sha256) is done by the ./llm script;
// this code only searches, and says exactly where it looked when nothing is found.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace llm {

struct ModelFiles {
  std::filesystem::path checkpoint;  // stories260K.bin
  std::filesystem::path tokenizer;   // tok512.bin
  std::filesystem::path directory;   // the folder they came from (also holds SOURCE.md, expected_*.txt)
};

// The folders searched, in order. `explicit_dir` first when given, then $LLM_MODEL_DIR, then
// <repo>/models/stories260K, then <repo>/../shared/models/stories260K.
std::vector<std::filesystem::path> model_search_path(const std::optional<std::filesystem::path>& explicit_dir = {});

// The first folder of the search path holding both files, or nullopt.
std::optional<ModelFiles> find_model(const std::optional<std::filesystem::path>& explicit_dir = {});

// find_model() or an IoError listing every folder tried and how to download the files.
ModelFiles require_model(const std::optional<std::filesystem::path>& explicit_dir = {});

// True when $LLM_REQUIRE_MODEL is set to a non-empty value other than "0": tests must then fail,
// not skip, when the model is missing (CI sets it).
bool model_required();

}  // namespace llm
