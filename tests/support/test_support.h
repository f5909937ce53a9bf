// test_support.h — helpers for the doctest suites: tensor comparison that names the first bad index,
// the real-model fixture that skips (or, under $LLM_REQUIRE_MODEL, fails) when stories260K is absent,
// temp folders, the message of an expected exception, and (through inputs.h) the seeded inputs the
// suites and the probe programs share. No test cases live here.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <sstream>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "doctest_strings.h"  // const char* and std::vector in failure messages
#include "inputs.h"
#include "llm/errors.h"
#include "llm/model_files.h"
#include "llm/rng.h"
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
// as skipped). When $LLM_REQUIRE_MODEL is set a missing model is a doctest FAIL instead. Only a case
// declared `TEST_CASE("..." * doctest::test_suite(llm::testing::kModelSuite))` may call it (it FAILs
// otherwise): that label, not anything the case prints, is how ./llm grade knows which cases need the model.
inline constexpr const char* kModelSuite = "model";
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

// Whether `part` occurs in `text` (error messages must name the value and the limit).
bool contains(const std::string& text, const std::string& part);

// Largest |a - b| over all elements; a shape mismatch is a REQUIRE failure naming both shapes
// (compare() alone reports 0 for it).
float max_diff(const Tensor& a, const Tensor& b);

// True when no value is NaN or +-inf.
bool all_finite(std::span<const float> values);
bool all_finite(const Tensor& t);

// random_tensor, seeded, causal_mask, positions, tokens, sample_ids: inputs.h (shared with the probes).

// The message of the E that f() throws. A stub's llm::NotImplemented propagates (the case stops with
// "THREW exception: lessonNN step N: ...", the step still to write); anything else — another exception
// type, or nothing at all — fails the case right there, with one message, not one per later check.
template <typename E, typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    if constexpr (!std::is_base_of_v<E, NotImplemented>)
      if (dynamic_cast<const NotImplemented*>(&e) != nullptr) throw;
    if (const auto* expected = dynamic_cast<const E*>(&e)) return expected->what();
    FAIL("an exception of another type than the expected one was thrown: " << std::string(e.what()));
  }
  FAIL("an exception was expected, nothing was thrown");
  return "";
}

}  // namespace llm::testing
