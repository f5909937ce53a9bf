// test_support.h — helpers for the doctest suites: tensor comparison that names the first bad index,
// and the real-model fixture that skips (or, under $LLM_REQUIRE_MODEL, fails) when stories260K is absent.
#pragma once

#include <optional>
#include <string>

#include "llm/model_files.h"
#include "llm/tensor.h"

namespace llm::testing {

// Where two tensors differ most, for a failure message.
struct TensorDiff {
  bool same_shape = false;
  float max_abs = 0.0f;
  Index worst_flat_index = -1;
  std::string describe() const;  // "max |diff| 3.1e-3 at flat index 17" or "shapes (2, 3) vs (3, 2)"
};
TensorDiff compare(const Tensor& a, const Tensor& b);

// The stories260K files, or nullopt after printing "[llm-skip] <reason>" (ctest then reports the case
// as skipped). When $LLM_REQUIRE_MODEL is set a missing model is a doctest FAIL instead.
std::optional<ModelFiles> model_or_skip();

// A fresh folder under the system temp dir, removed with everything in it at scope exit. The pid and a
// counter make the name unique: ctest runs every case as its own process, possibly in parallel.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` to path()/name and returns that path (a test-setup failure is a REQUIRE).
  std::filesystem::path write(const std::string& name, const std::string& bytes) const;

 private:
  std::filesystem::path path_;
};

// The file's bytes as a string (tests read expected_*.txt and make corrupt copies of model files).
std::string read_file(const std::filesystem::path& path);

}  // namespace llm::testing
