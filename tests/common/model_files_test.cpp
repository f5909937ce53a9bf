// model_files_test.cpp — the model search path, explicit folders, $LLM_MODEL_DIR, the not-found message.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "llm/errors.h"
#include "llm/model_files.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope and restores the old value,
// so a case cannot leak $LLM_MODEL_DIR into the next one when doctest runs them in one process.
class EnvGuard {
 public:
  EnvGuard(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

using llm::testing::contains;
using llm::testing::TempDir;

std::string require_error(const std::optional<fs::path>& dir) {
  try {
    (void)llm::require_model(dir);
  } catch (const llm::IoError& e) {
    return e.what();
  }
  FAIL_CHECK("require_model did not throw IoError");
  return {};
}

}  // namespace

TEST_CASE("model_files search path order") {
  // The repository root, found independently of LLM_SOURCE_DIR: this file is <repo>/tests/common/.
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path().parent_path();
  REQUIRE_MESSAGE(repo.is_absolute(), "test setup: __FILE__ should be absolute, got " << __FILE__);
  const fs::path repo_models = (repo / "models" / "stories260K").lexically_normal();
  const fs::path shared_models = (repo / ".." / "shared" / "models" / "stories260K").lexically_normal();
  {
    EnvGuard env("LLM_MODEL_DIR", "/env/models");
    const auto dirs = llm::model_search_path(fs::path("/explicit/dir"));
    REQUIRE_MESSAGE(dirs.size() == 4u, "explicit, $LLM_MODEL_DIR, repo models/, ../shared/models/");
    CHECK_MESSAGE(dirs[0] == fs::path("/explicit/dir"), "the explicit folder comes first");
    CHECK_MESSAGE(dirs[1] == fs::path("/env/models"), "$LLM_MODEL_DIR comes second");
    CHECK_MESSAGE(dirs[2] == repo_models, "then <repo>/models/stories260K, got " << dirs[2].string());
    CHECK_MESSAGE(dirs[3] == shared_models,
                  "then <repo>/../shared/models/stories260K (normalised), got " << dirs[3].string());
    const auto no_explicit = llm::model_search_path();
    REQUIRE_MESSAGE(no_explicit.size() == 3u, "without an explicit folder, $LLM_MODEL_DIR leads");
    CHECK_MESSAGE(no_explicit[0] == fs::path("/env/models"),
                  "$LLM_MODEL_DIR is first without an explicit folder");
  }
  {
    EnvGuard env("LLM_MODEL_DIR", std::nullopt);
    const auto dirs = llm::model_search_path(fs::path("/explicit/dir"));
    CHECK_MESSAGE(dirs.size() == 3u, "unset $LLM_MODEL_DIR adds no folder");
  }
  {
    EnvGuard env("LLM_MODEL_DIR", "");
    CHECK_MESSAGE(llm::model_search_path().size() == 2u, "an empty $LLM_MODEL_DIR counts as unset");
  }
}

TEST_CASE("model_files explicit folder without the files is not replaced by another") {
  TempDir empty;
  CHECK_MESSAGE(!llm::find_model(empty.path()).has_value(),
                "an explicit folder lacking the files gives nullopt even if another folder has them");
  const std::string msg = require_error(empty.path());
  CHECK_MESSAGE(contains(msg, empty.path().string()), "the error lists the folder tried: " << msg);
  CHECK_MESSAGE(contains(msg, "./llm model"), "the error says how to download: " << msg);
  CHECK_MESSAGE(contains(msg, "--model-dir"), "the error mentions --model-dir: " << msg);
  CHECK_MESSAGE(contains(msg, "LLM_MODEL_DIR"), "the error mentions LLM_MODEL_DIR: " << msg);
}

TEST_CASE("model_files folder with only one of the two files does not qualify") {
  TempDir half;
  std::ofstream(half.path() / "stories260K.bin") << "x";
  CHECK_MESSAGE(!llm::find_model(half.path()).has_value(),
                "checkpoint without tok512.bin is not a model folder");
  fs::remove(half.path() / "stories260K.bin");
  std::ofstream(half.path() / "tok512.bin") << "x";
  CHECK_MESSAGE(!llm::find_model(half.path()).has_value(),
                "tok512.bin without the checkpoint is not a model folder");
  fs::create_directory(half.path() / "stories260K.bin");
  CHECK_MESSAGE(!llm::find_model(half.path()).has_value(),
                "a directory named stories260K.bin is not the checkpoint");
}

TEST_CASE("model_files require_model lists every folder searched") {
  TempDir empty;
  EnvGuard env("LLM_MODEL_DIR", empty.path().string());
  const auto dirs = llm::model_search_path();
  REQUIRE_MESSAGE(dirs.size() == 3u, "$LLM_MODEL_DIR plus the two repository folders");
  if (auto found = llm::find_model()) {
    // The model is installed: the empty $LLM_MODEL_DIR is passed over and a later folder is used.
    CHECK_MESSAGE(found->directory != empty.path(), "an empty $LLM_MODEL_DIR is skipped, not chosen");
    CHECK_MESSAGE((found->directory == dirs[1] || found->directory == dirs[2]),
                  "the model comes from a folder of the search path: " << found->directory.string());
    CHECK_MESSAGE(found->checkpoint == found->directory / "stories260K.bin",
                  "checkpoint path inside the folder");
    CHECK_MESSAGE(found->tokenizer == found->directory / "tok512.bin", "tokenizer path inside the folder");
  } else {
    const std::string msg = require_error(std::nullopt);
    for (const auto& dir : dirs)
      CHECK_MESSAGE(contains(msg, dir.string()), "the error lists " << dir.string() << ": " << msg);
  }
}

TEST_CASE("model_files finds a folder holding both real files" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  TempDir dir;
  fs::create_symlink(fs::absolute(files->checkpoint), dir.path() / "stories260K.bin");
  fs::copy_file(files->tokenizer, dir.path() / "tok512.bin");
  const auto found = llm::find_model(dir.path());
  REQUIRE_MESSAGE(found.has_value(), "an explicit folder with both files (checkpoint symlinked) is found");
  CHECK_MESSAGE(found->directory == dir.path(), "the folder is the explicit one");
  CHECK_MESSAGE(found->checkpoint == dir.path() / "stories260K.bin",
                "checkpoint path in the explicit folder");
  CHECK_MESSAGE(found->tokenizer == dir.path() / "tok512.bin", "tokenizer path in the explicit folder");
  CHECK_MESSAGE(fs::file_size(found->checkpoint) == 1056540u, "the symlink resolves to the real checkpoint");
  CHECK_MESSAGE(llm::require_model(dir.path()).directory == dir.path(),
                "require_model agrees with find_model");

  EnvGuard env("LLM_MODEL_DIR", dir.path().string());
  const auto via_env = llm::find_model();
  REQUIRE_MESSAGE(via_env.has_value(), "$LLM_MODEL_DIR with both files is found");
  CHECK_MESSAGE(via_env->directory == dir.path(), "$LLM_MODEL_DIR wins over the repository folders");
}

TEST_CASE("model_files model_required reads LLM_REQUIRE_MODEL") {
  {
    EnvGuard env("LLM_REQUIRE_MODEL", std::nullopt);
    CHECK_MESSAGE(!llm::model_required(), "unset: the model is optional");
  }
  {
    EnvGuard env("LLM_REQUIRE_MODEL", "");
    CHECK_MESSAGE(!llm::model_required(), "empty: the model is optional");
  }
  {
    EnvGuard env("LLM_REQUIRE_MODEL", "0");
    CHECK_MESSAGE(!llm::model_required(), "\"0\": the model is optional");
  }
  {
    EnvGuard env("LLM_REQUIRE_MODEL", "1");
    CHECK_MESSAGE(llm::model_required(), "\"1\": the model is required");
  }
  {
    EnvGuard env("LLM_REQUIRE_MODEL", "yes");
    CHECK_MESSAGE(llm::model_required(), "any other non-empty value: the model is required");
  }
}
