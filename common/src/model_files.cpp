// model_files.cpp — finds the stories260K checkpoint and tokenizer on disk; never downloads anything.
#include "llm/model_files.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include "llm/errors.h"

#if !defined(LLM_SOURCE_DIR) || !defined(LLM_MODEL_SEARCH_DIRS)
#error "LLM_SOURCE_DIR (the repository root) and LLM_MODEL_SEARCH_DIRS must be defined by the build"
#endif

namespace llm {

namespace {

constexpr const char* kCheckpointName = "stories260K.bin";
constexpr const char* kTokenizerName = "tok512.bin";

// A folder qualifies only when it holds both files: half a download is as good as nothing. The
// error_code overloads keep an unreadable folder from throwing; it simply does not qualify.
std::optional<ModelFiles> files_in(const std::filesystem::path& dir) {
  std::error_code ec;
  ModelFiles files{dir / kCheckpointName, dir / kTokenizerName, dir};
  if (std::filesystem::is_regular_file(files.checkpoint, ec) &&
      std::filesystem::is_regular_file(files.tokenizer, ec))
    return files;
  return std::nullopt;
}

}  // namespace

std::vector<std::filesystem::path> model_search_path(
    const std::optional<std::filesystem::path>& explicit_dir) {
  std::vector<std::filesystem::path> dirs;
  if (explicit_dir) dirs.push_back(*explicit_dir);
  if (const char* env = std::getenv("LLM_MODEL_DIR"); env != nullptr && *env != '\0') dirs.emplace_back(env);
  // common/model_search_path.txt, compiled in as "a:b:c" relative to the repository. lexically_normal
  // turns "<repo>/../shared" into a path a user can paste into a shell.
  const std::filesystem::path repo(LLM_SOURCE_DIR);
  std::string_view listed = LLM_MODEL_SEARCH_DIRS;
  while (!listed.empty()) {
    const std::size_t colon = std::min(listed.find(':'), listed.size());
    if (colon > 0) dirs.push_back((repo / listed.substr(0, colon)).lexically_normal());
    listed.remove_prefix(std::min(colon + 1, listed.size()));
  }
  return dirs;
}

// An explicit folder is a command ("use these files"), not a hint: when it lacks the files we return
// nullopt rather than quietly loading some other copy from further down the search path, which would
// make --model-dir typos invisible. Only without an explicit folder is the whole path searched.
std::optional<ModelFiles> find_model(const std::optional<std::filesystem::path>& explicit_dir) {
  if (explicit_dir) return files_in(*explicit_dir);
  for (const auto& dir : model_search_path()) {
    if (auto files = files_in(dir)) return files;
  }
  return std::nullopt;
}

ModelFiles require_model(const std::optional<std::filesystem::path>& explicit_dir) {
  if (auto files = find_model(explicit_dir)) return *files;
  std::string message = "stories260K model files (" + std::string(kCheckpointName) + " and " +
                        kTokenizerName + ") not found; searched:";
  // List exactly the folders find_model looked in (just the explicit one when it was given).
  const auto tried = explicit_dir ? std::vector<std::filesystem::path>{*explicit_dir} : model_search_path();
  for (const auto& dir : tried) message += "\n  " + dir.string();
  if (explicit_dir) message += "\n(an explicit model folder was given, so no other folder was searched)";
  message += "\nrun ./llm model to download it (needs internet), or pass --model-dir / set LLM_MODEL_DIR";
  throw IoError(message);
}

bool model_required() {
  const char* env = std::getenv("LLM_REQUIRE_MODEL");
  return env != nullptr && *env != '\0' && std::string_view(env) != "0";
}

}  // namespace llm
