// test_support.h — helpers for the doctest suites: tensor comparison that names the first bad index,
// the real-model fixture that skips (or, under $LLM_REQUIRE_MODEL, fails) when stories260K is absent,
// temp folders, and the inputs many lessons build alike (seeded N(0, scale^2) tensors, the causal mask,
// position ids, token slices, the message of an expected exception). No test cases live here.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

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

// A tensor of N(0, scale^2) draws from `rng`, in row-major order (llm::fill_normal).
Tensor random_tensor(const Shape& shape, Rng& rng, float scale = 1.0f);
// The same from a fresh llm::Rng(seed).
Tensor seeded(const Shape& shape, std::uint64_t seed, float scale = 1.0f);

// The additive causal mask of attention.h, (B, T, P + T): new token t sits at absolute position P + t
// and sees keys j <= P + t (0); later keys are -inf.
Tensor causal_mask(Index B, Index T, Index P = 0);

// Position ids start .. start + T - 1 in every row, (B, T).
IdTensor positions(Index B, Index T, Index start = 0);

// Tokens [from, to) of a (B, T, X) tensor, as (B, to - from, X).
Tensor tokens(const Tensor& x, Index from, Index to);

// The message of the E that f() throws. Anything else — another exception type (the stubs'
// llm::NotImplemented among them) or nothing at all — is a failed check, and the result is "".
template <typename E, typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("an exception of another type than the expected one was thrown: " << std::string(e.what()));
    return "";
  }
  FAIL_CHECK("an exception was expected, nothing was thrown");
  return "";
}

}  // namespace llm::testing
