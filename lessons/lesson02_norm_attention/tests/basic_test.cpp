// basic_test.cpp — lesson 02's basic suite: each step on inputs small enough to check by hand —
// RMSNorm and LayerNorm (steps 1, 2), scaled dot-product attention (3), repeat_kv (4), appending to the
// KV cache (5) and Attention::forward with hand-set or single-token inputs (6).
// Not here: GQA/MQA against the full composition, masks supplied by the caller across tokens,
// cache-versus-full equivalence, properties and errors beyond a wrong weight size — see advanced_test.cpp.
//
// Legend: B batch, T new tokens (queries), S keys, C hidden, H query heads, KV key/value heads,
// D head_dim, G = H / KV.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention.h"
#include "kv_cache.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "norm.h"
#include "rope.h"
#include "test_support.h"

using llm::IdTensor;
using llm::Index;
using llm::ModelConfig;
using llm::Shape;
using llm::Tensor;

namespace {

using llm::testing::max_diff;
using llm::testing::random_tensor;

constexpr float kInf = std::numeric_limits<float>::infinity();

// The (n, n) identity matrix, times `scale`.
Tensor identity(Index n, float scale = 1.0f) {
  Tensor t(Shape{n, n});
  for (Index i = 0; i < n; ++i) t(i, i) = scale;
  return t;
}

// An attention block of the tiny config (C 32, H 4, KV 2, D 8) with sharp random weights.
ModelConfig gqa_config() {
  ModelConfig cfg = ModelConfig::tiny();
  cfg.initializer_range = 0.3f;
  return cfg;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: RMSNorm
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: RMSNorm of 1 2 3 4 with weight 1 1 2 2 matches hand values") {
  // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5; rms = sqrt(7.5 + 1e-6) = 2.7386130.
  // y = x / rms * w = {1/2.7386130, 2/2.7386130, 3*2/2.7386130, 4*2/2.7386130}
  //                 = {0.3651484, 0.7302967, 2.1908902, 2.9211870}.
  llm::RMSNorm norm(4, 1e-6f);
  norm.weight = Tensor(Shape{4}, {1.0f, 1.0f, 2.0f, 2.0f});
  const Tensor y = norm.forward(Tensor(Shape{4}, {1.0f, 2.0f, 3.0f, 4.0f}));
  REQUIRE_MESSAGE(y.shape() == Shape{4}, "RMSNorm keeps the input's shape");
  INFO("RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight: divide by the root mean square, then scale");
  CHECK(y(0) == doctest::Approx(0.3651484f));
  CHECK(y(1) == doctest::Approx(0.7302967f));
  CHECK_MESSAGE(y(2) == doctest::Approx(2.1908902f), "the weight multiplies after the division");
  CHECK(y(3) == doctest::Approx(2.9211870f));
}

TEST_CASE("step 1: RMSNorm rows have root mean square 1 with unit weight") {
  llm::Rng rng(1);
  const Tensor x = random_tensor(Shape{2, 3, 16}, rng, 5.0f);  // (B, T, C)
  const llm::RMSNorm norm(16, 1e-6f);
  const Tensor y = norm.forward(x);
  REQUIRE_MESSAGE(y.shape() == x.shape(), "RMSNorm maps (B, T, C) to (B, T, C)");
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 3; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      float mean_square = 0.0f;
      for (float v : y.row(b, t)) mean_square += v * v / 16.0f;
      CHECK_MESSAGE(std::sqrt(mean_square) == doctest::Approx(1.0f).epsilon(1e-4),
                    "after RMSNorm (weight 1) every row has root mean square 1: divide by sqrt(mean(x^2)), "
                    "not by the standard deviation or the L2 norm");
    }
}

TEST_CASE("step 1: RMSNorm keeps the mean so a constant row becomes all ones") {
  // Row {3, 3, 3, 3}: mean(x^2) = 9, rms = 3, y = {1, 1, 1, 1}. Subtracting the mean (as LayerNorm
  // does) would give zeros.
  const llm::RMSNorm norm(4, 1e-6f);
  const Tensor y = norm.forward(Tensor(Shape{1, 4}, {3.0f, 3.0f, 3.0f, 3.0f}));
  REQUIRE(y.shape() == Shape({1, 4}));
  for (Index i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(y(0, i) == doctest::Approx(1.0f),
                  "RMSNorm does not subtract the mean: a constant row 3 3 3 3 becomes 1 1 1 1, not 0 0 0 0");
  }
}

TEST_CASE("step 1: RMSNorm normalises each row on its own") {
  // Row 0 = {1, 2, 3, 4} (rms sqrt(7.5)), row 1 = {10, 0, 0, 0} (rms 5): y row 1 = {2, 0, 0, 0}.
  const llm::RMSNorm norm(4, 1e-6f);
  const Tensor y = norm.forward(Tensor(Shape{2, 4}, {1.0f, 2.0f, 3.0f, 4.0f, 10.0f, 0.0f, 0.0f, 0.0f}));
  REQUIRE(y.shape() == Shape({2, 4}));
  INFO("one root mean square per row of C values, never one for the whole tensor");
  CHECK(y(0, 0) == doctest::Approx(0.3651484f));  // 1 / sqrt(7.5)
  CHECK(y(0, 3) == doctest::Approx(1.4605935f));  // 4 / sqrt(7.5)
  CHECK(y(1, 0) == doctest::Approx(2.0f));        // 10 / sqrt(100 / 4)
  CHECK(y(1, 1) == 0.0f);
}

TEST_CASE("step 1: RMSNorm rejects a weight of the wrong size with ShapeError") {
  const Tensor x(Shape{2, 4}, 1.0f);
  llm::RMSNorm norm(3, 1e-6f);
  INFO("RMSNorm must throw llm::ShapeError when the last dimension of x is not weight's size");
  CHECK_THROWS_AS(norm.forward(x), llm::ShapeError);
  CHECK_THROWS_WITH_AS(norm.forward(x), doctest::Contains("(2, 4)"), llm::ShapeError);
  norm.weight = Tensor(Shape{1, 4}, 1.0f);  // right count, wrong rank
  CHECK_THROWS_AS(norm.forward(x), llm::ShapeError);
  CHECK_MESSAGE(llm::RMSNorm(4, 1e-6f).forward(x).shape() == x.shape(), "a matching weight is accepted");
}

// ------------------------------------------------------------------------------------------------
// Step 2: LayerNorm
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: LayerNorm of 1 2 3 4 uses the biased variance") {
  // mean = 2.5; (x - mean) = {-1.5, -0.5, 0.5, 1.5}; biased var = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
  // y = (x - mean) / sqrt(1.25 + 1e-5) = {-1.3416355, -0.4472118, 0.4472118, 1.3416355}.
  // The unbiased variance (/ 3 = 1.6667) would give -1.1618950 for the first entry.
  const llm::LayerNorm norm(4, 1e-5f);
  const Tensor y = norm.forward(Tensor(Shape{4}, {1.0f, 2.0f, 3.0f, 4.0f}));
  REQUIRE_MESSAGE(y.shape() == Shape{4}, "LayerNorm keeps the input's shape");
  INFO("LayerNorm divides by sqrt(var + eps) with the biased variance mean((x - mean)^2): divide by C, not C - 1");
  CHECK(y(0) == doctest::Approx(-1.3416355f));
  CHECK(y(1) == doctest::Approx(-0.4472118f));
  CHECK(y(2) == doctest::Approx(0.4472118f));
  CHECK(y(3) == doctest::Approx(1.3416355f));
}

TEST_CASE("step 2: LayerNorm rows have mean 0 and biased variance var over var plus eps") {
  // With unit weight and zero bias, a row of biased variance var comes out with mean 0 and biased
  // variance var / (var + eps). eps = 0.5 makes that visibly less than 1.
  llm::Rng rng(2);
  const Tensor x = random_tensor(Shape{3, 8}, rng);  // (rows, C)
  const float eps = 0.5f;
  const llm::LayerNorm norm(8, eps);
  const Tensor y = norm.forward(x);
  REQUIRE(y.shape() == x.shape());
  for (Index r = 0; r < 3; ++r) {
    CAPTURE(r);
    float mean_x = 0.0f, var_x = 0.0f, mean_y = 0.0f, var_y = 0.0f;
    for (float v : x.row(r)) mean_x += v / 8.0f;
    for (float v : x.row(r)) var_x += (v - mean_x) * (v - mean_x) / 8.0f;
    for (float v : y.row(r)) mean_y += v / 8.0f;
    for (float v : y.row(r)) var_y += (v - mean_y) * (v - mean_y) / 8.0f;
    CHECK_MESSAGE(mean_y == doctest::Approx(0.0f).epsilon(1e-5), "LayerNorm subtracts the row mean");
    CHECK_MESSAGE(var_y == doctest::Approx(var_x / (var_x + eps)).epsilon(1e-4),
                  "the output's biased variance is var / (var + eps): eps goes inside the square root, next "
                  "to the biased variance");
  }
}

TEST_CASE("step 2: LayerNorm applies weight and bias after normalising") {
  // Normalised {1, 2, 3, 4} = {-1.3416355, -0.4472118, 0.4472118, 1.3416355};
  // times w = {2, 2, 0.5, 1}, plus b = {0, 1, 0, -1}: {-2.6832710, 0.1055764, 0.2236059, 0.3416355}.
  llm::LayerNorm norm(4, 1e-5f);
  norm.weight = Tensor(Shape{4}, {2.0f, 2.0f, 0.5f, 1.0f});
  norm.bias = Tensor(Shape{4}, {0.0f, 1.0f, 0.0f, -1.0f});
  const Tensor y = norm.forward(Tensor(Shape{1, 1, 4}, {1.0f, 2.0f, 3.0f, 4.0f}));
  REQUIRE(y.shape() == Shape({1, 1, 4}));
  INFO("y = (x - mean) / sqrt(var + eps) * weight + bias: weight and bias come after the normalisation");
  CHECK(y(0, 0, 0) == doctest::Approx(-2.6832710f));
  CHECK(y(0, 0, 1) == doctest::Approx(0.1055764f));
  CHECK(y(0, 0, 2) == doctest::Approx(0.2236059f));
  CHECK(y(0, 0, 3) == doctest::Approx(0.3416355f));
}

TEST_CASE("step 2: LayerNorm maps a constant row to its bias") {
  // A constant row has x - mean = 0 (and var = 0: eps keeps the division finite), so y = bias.
  llm::LayerNorm norm(3, 1e-5f);
  norm.bias = Tensor(Shape{3}, {0.5f, -2.0f, 7.0f});
  const Tensor y = norm.forward(Tensor(Shape{3}, {4.0f, 4.0f, 4.0f}));
  REQUIRE(y.shape() == Shape{3});
  CHECK_MESSAGE(y(0) == doctest::Approx(0.5f), "LayerNorm subtracts the mean: a constant row becomes the bias");
  CHECK(y(1) == doctest::Approx(-2.0f));
  CHECK(y(2) == doctest::Approx(7.0f));
}

TEST_CASE("step 2: LayerNorm rejects a weight or bias of the wrong size with ShapeError") {
  const Tensor x(Shape{2, 4}, 1.0f);
  INFO("LayerNorm must throw llm::ShapeError when weight or bias does not have the last dimension's size");
  CHECK_THROWS_AS(llm::LayerNorm(5, 1e-5f).forward(x), llm::ShapeError);
  llm::LayerNorm bad_bias(4, 1e-5f);
  bad_bias.bias = Tensor(Shape{3});
  CHECK_THROWS_AS(bad_bias.forward(x), llm::ShapeError);
  CHECK_MESSAGE(llm::LayerNorm(4, 1e-5f).forward(x).shape() == x.shape(), "matching sizes are accepted");
}

// ------------------------------------------------------------------------------------------------
// Step 3: scaled dot-product attention
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: attention over two keys matches a hand computation") {
  // D = 4, so scores are divided by sqrt(4) = 2. q = (1, 1, 1, 1); k0 = (1, 1, 1, 1) -> q.k0 = 4 -> 2;
  // k1 = (1, -1, 1, -1) -> 0 -> 0. softmax(2, 0) = (0.8807971, 0.1192029).
  // out = 0.8807971 * (10, 0, 1, 2) + 0.1192029 * (0, 10, 1, -2) = (8.807971, 1.192029, 1, 1.5231884).
  const Tensor q(Shape{1, 1, 1, 4}, {1.0f, 1.0f, 1.0f, 1.0f});                            // (B, H, T, D)
  const Tensor k(Shape{1, 1, 2, 4}, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, -1.0f, 1.0f, -1.0f});  // (B, H, S, D)
  const Tensor v(Shape{1, 1, 2, 4}, {10.0f, 0.0f, 1.0f, 2.0f, 0.0f, 10.0f, 1.0f, -2.0f});  // (B, H, S, D)
  const Tensor out = llm::scaled_dot_product_attention(q, k, v);
  REQUIRE_MESSAGE(out.shape() == Shape({1, 1, 1, 4}), "the output has q's shape (B, H, T, D)");
  INFO("out = softmax(q k^T / sqrt(D)) v");
  CHECK(out(0, 0, 0, 0) == doctest::Approx(8.807971f));
  CHECK(out(0, 0, 0, 1) == doctest::Approx(1.192029f));
  CHECK(out(0, 0, 0, 2) == doctest::Approx(1.0f));
  CHECK(out(0, 0, 0, 3) == doctest::Approx(1.5231884f));
}

TEST_CASE("step 3: scores are divided by the square root of the head dimension") {
  // D = 16: q = 1 everywhere, k0 = 1 everywhere (q.k0 = 16), k1 = 0 (q.k1 = 0). Scaled scores 16/4 = 4
  // and 0: weight of key 0 = 1 / (1 + e^-4) = 0.9820138. Unscaled it would be 1 / (1 + e^-16) = 1.0000000;
  // divided by D instead, 1 / (1 + e^-1) = 0.7310586. v0 = (1, 0, ...), v1 = 0, so out[0] is that weight.
  const Index D = 16;
  const Tensor q(Shape{1, 1, 1, D}, 1.0f);
  Tensor k(Shape{1, 1, 2, D});
  Tensor v(Shape{1, 1, 2, D});
  for (Index d = 0; d < D; ++d) k(0, 0, 0, d) = 1.0f;
  v(0, 0, 0, 0) = 1.0f;
  const Tensor out = llm::scaled_dot_product_attention(q, k, v);
  REQUIRE(out.shape() == Shape({1, 1, 1, D}));
  CHECK_MESSAGE(out(0, 0, 0, 0) == doctest::Approx(0.9820138f),
                "the scores q.k must be multiplied by 1 / sqrt(D) = 1/4 here (not 1, not 1 / D)");
}

TEST_CASE("step 3: the attention weights of a query are positive and sum to one") {
  // With v_s = the one-hot vector e_s (S = D = 6), the output row is exactly the query's weights.
  const Index S = 6, D = 6;
  llm::Rng rng(3);
  const Tensor q = random_tensor(Shape{1, 1, 2, D}, rng, 2.0f);  // (B, H, T, D)
  const Tensor k = random_tensor(Shape{1, 1, S, D}, rng);        // (B, H, S, D)
  Tensor v(Shape{1, 1, S, D});
  for (Index s = 0; s < S; ++s) v(0, 0, s, s) = 1.0f;
  const Tensor w = llm::scaled_dot_product_attention(q, k, v);
  REQUIRE(w.shape() == Shape({1, 1, 2, D}));
  for (Index t = 0; t < 2; ++t) {
    CAPTURE(t);
    float sum = 0.0f;
    for (Index s = 0; s < S; ++s) {
      CAPTURE(s);
      CHECK_MESSAGE(w(0, 0, t, s) > 0.0f, "softmax weights are positive (no key is masked here)");
      sum += w(0, 0, t, s);
    }
    CHECK_MESSAGE(sum == doctest::Approx(1.0f), "softmax over the keys: one query's weights sum to 1");
  }
}

TEST_CASE("step 3: a minus infinity mask entry removes that key") {
  // All scores 0 (q = 0): without a mask each of the 3 keys gets 1/3. Masking key 1 with -inf leaves
  // keys 0 and 2 with 1/2 each: out = (v0 + v2) / 2 = (2, 3).
  const Tensor q(Shape{1, 1, 1, 2});                                           // (B, H, T, D), zeros
  const Tensor k(Shape{1, 1, 3, 2}, {1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});     // (B, H, S, D)
  const Tensor v(Shape{1, 1, 3, 2}, {1.0f, 2.0f, 100.0f, 100.0f, 3.0f, 4.0f});  // (B, H, S, D)
  const Tensor mask(Shape{1, 1, 3}, {0.0f, -kInf, 0.0f});                       // (B, T, S)
  const Tensor out = llm::scaled_dot_product_attention(q, k, v, &mask);
  REQUIRE(out.shape() == Shape({1, 1, 1, 2}));
  CHECK_MESSAGE(out(0, 0, 0, 0) == doctest::Approx(2.0f),
                "the mask is added to the scores: -inf gives weight exp(-inf) = 0, key 1 must not count");
  CHECK(out(0, 0, 0, 1) == doctest::Approx(3.0f));
  const Tensor open = llm::scaled_dot_product_attention(q, k, v);
  CHECK_MESSAGE(open(0, 0, 0, 0) == doctest::Approx(104.0f / 3.0f), "with mask == nullptr every key counts");
}

TEST_CASE("step 3: a finite mask value is added to the score") {
  // Equal scores (q = 0) and mask (ln 2, 0, 0): unnormalised weights (2, 1, 1) -> (0.5, 0.25, 0.25).
  // With one-hot values the output is the weight vector itself.
  const Tensor q(Shape{1, 1, 1, 3});
  const Tensor k(Shape{1, 1, 3, 3}, 1.0f);
  const Tensor v(Shape{1, 1, 3, 3}, {1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 1.0f});
  const Tensor mask(Shape{1, 1, 3}, {std::log(2.0f), 0.0f, 0.0f});
  const Tensor w = llm::scaled_dot_product_attention(q, k, v, &mask);
  REQUIRE(w.shape() == Shape({1, 1, 1, 3}));
  INFO("the mask is additive: a finite value m multiplies the key's unnormalised weight by e^m");
  CHECK(w(0, 0, 0, 0) == doctest::Approx(0.5f));
  CHECK(w(0, 0, 0, 1) == doctest::Approx(0.25f));
  CHECK(w(0, 0, 0, 2) == doctest::Approx(0.25f));
}

// ------------------------------------------------------------------------------------------------
// Step 4: repeat_kv
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: repeat_kv repeats each KV head n_rep times in a row") {
  // x (B 2, KV 2, S 3, D 2) with x(b, j, s, d) = 1000 b + 100 j + 10 s + d; n_rep 3 gives 6 heads,
  // output head h = input head h / 3: heads 0 1 2 <- KV head 0, heads 3 4 5 <- KV head 1.
  Tensor x(Shape{2, 2, 3, 2});
  for (Index b = 0; b < 2; ++b)
    for (Index j = 0; j < 2; ++j)
      for (Index s = 0; s < 3; ++s)
        for (Index d = 0; d < 2; ++d) x(b, j, s, d) = static_cast<float>(1000 * b + 100 * j + 10 * s + d);
  const Tensor out = llm::repeat_kv(x, 3);
  REQUIRE_MESSAGE(out.shape() == Shape({2, 6, 3, 2}), "repeat_kv: (B, KV, S, D) -> (B, KV * n_rep, S, D)");
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < 6; ++h)
      for (Index s = 0; s < 3; ++s)
        for (Index d = 0; d < 2; ++d) {
          CAPTURE(b);
          CAPTURE(h);
          CAPTURE(s);
          CAPTURE(d);
          CHECK_MESSAGE(out(b, h, s, d) == x(b, h / 3, s, d),
                        "output head h is input head h / n_rep (0 0 0 1 1 1), not h % KV (0 1 0 1 0 1)");
        }
}

// ------------------------------------------------------------------------------------------------
// Step 5: appending to the KV cache
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 5: append writes keys and values that key_states and value_states return") {
  // B 1, KV 2, capacity 4, D 2. k_new (B 1, T 2, KV*D 4): k(0, t, j) = 10 t + j + 1, so KV head h of
  // token t is (10 t + 2 h + 1, 10 t + 2 h + 2); v_new = -k_new.
  llm::LayerKVCache cache(1, 2, 4, 2);
  Tensor k(Shape{1, 2, 4});
  for (Index t = 0; t < 2; ++t)
    for (Index j = 0; j < 4; ++j) k(0, t, j) = static_cast<float>(10 * t + j + 1);
  Tensor v = k;
  for (float& x : v.flat()) x = -x;
  cache.append(k, v);
  CHECK_MESSAGE(cache.length() == 2, "append advances length by T = 2");
  const Tensor ks = cache.key_states();    // (B, KV, length, D)
  const Tensor vs = cache.value_states();  // (B, KV, length, D)
  REQUIRE_MESSAGE(ks.shape() == Shape({1, 2, 2, 2}), "key_states() is (B, KV, length, D)");
  REQUIRE(vs.shape() == Shape({1, 2, 2, 2}));
  for (Index h = 0; h < 2; ++h)
    for (Index t = 0; t < 2; ++t)
      for (Index d = 0; d < 2; ++d) {
        CAPTURE(h);
        CAPTURE(t);
        CAPTURE(d);
        CHECK_MESSAGE(ks(0, h, t, d) == k(0, t, h * 2 + d),
                      "KV head h of token t is columns [h*D, (h+1)*D) of k_new, stored at position t");
        CHECK_MESSAGE(vs(0, h, t, d) == v(0, t, h * 2 + d), "values are stored like the keys (per KV head)");
      }
}

TEST_CASE("step 5: a second append continues after the cached positions") {
  llm::LayerKVCache cache(1, 1, 5, 2);  // B 1, KV 1, capacity 5, D 2
  const Tensor first(Shape{1, 2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});  // (B, T 2, D)
  const Tensor second(Shape{1, 1, 2}, {5.0f, 6.0f});              // (B, T 1, D)
  cache.append(first, first);
  cache.append(second, second);
  CHECK_MESSAGE(cache.length() == 3, "two appends of 2 and 1 positions leave length 3");
  const Tensor ks = cache.key_states();
  REQUIRE(ks.shape() == Shape({1, 1, 3, 2}));
  const std::vector<float> expected = {1, 2, 3, 4, 5, 6};
  for (Index i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(ks.data()[i] == expected[static_cast<size_t>(i)],
                  "new positions are written at length, length + 1, ...: the cached ones stay as they were");
    CHECK(cache.value_states().data()[i] == expected[static_cast<size_t>(i)]);
  }
}

TEST_CASE("step 5: keys are stored transposed and values row by row") {
  // kv_cache.h: keys(b, h) is a (D, capacity) block — element (d, t) at d * capacity + t — and
  // values(b, h) a (capacity, D) block — element (t, d) at t * D + d.
  const Index B = 2, KV = 2, capacity = 3, D = 2;
  llm::LayerKVCache cache(B, KV, capacity, D);
  llm::Rng rng(4);
  const Tensor k = random_tensor(Shape{B, 2, KV * D}, rng);  // (B, T, KV*D)
  const Tensor v = random_tensor(Shape{B, 2, KV * D}, rng);
  cache.append(k, v);
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV; ++h)
      for (Index t = 0; t < 2; ++t)
        for (Index d = 0; d < D; ++d) {
          CAPTURE(b);
          CAPTURE(h);
          CAPTURE(t);
          CAPTURE(d);
          CHECK_MESSAGE(cache.keys(b, h)[d * capacity + t] == k(b, t, h * D + d),
                        "K is stored transposed: dimension d of position t goes to k_(b, h, d, t)");
          CHECK_MESSAGE(cache.values(b, h)[t * D + d] == v(b, t, h * D + d),
                        "V is stored row by row: v_(b, h, t, d)");
        }
}

// ------------------------------------------------------------------------------------------------
// Step 6: Attention::forward
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 6: with identity projections attention matches a hand computation") {
  // C = D = 4, one head. q/k/v projections are the identity and o_proj is 3 I; both tokens sit at
  // position 0, where RoPE rotates by angle 0, so q = k = v = x. x0 = (2, 0, 0, 0), x1 = (0, 2, 0, 0):
  // token 0's scores are x0.x0 / 2 = 2 and x0.x1 / 2 = 0 -> weights (0.8807971, 0.1192029);
  // attention = (1.7615942, 0.2384058, 0, 0); times 3 = (5.2847826, 0.7152174, 0, 0). Token 1 mirrors it.
  ModelConfig cfg = ModelConfig::tiny();
  cfg.hidden_size = 4;
  cfg.num_attention_heads = 1;
  cfg.num_key_value_heads = 1;
  llm::Rng rng(5);
  llm::Attention attn(cfg, rng);
  *attn.q_proj.weight = identity(4);
  *attn.k_proj.weight = identity(4);
  *attn.v_proj.weight = identity(4);
  *attn.o_proj.weight = identity(4, 3.0f);
  const llm::RotaryEmbedding rope(4, 16, 10000.0f);
  const Tensor x(Shape{1, 2, 4}, {2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.0f});  // (B, T, C)
  const IdTensor positions = llm::make_ids({{0, 0}});
  const Tensor y = attn.forward(x, positions, /*mask=*/nullptr, /*cache=*/nullptr, rope);
  REQUIRE_MESSAGE(y.shape() == Shape({1, 2, 4}), "Attention::forward returns (B, T, C)");
  INFO("out = o_proj(softmax(q k^T / sqrt(D)) v); with mask == nullptr token 0 also sees token 1");
  CHECK(y(0, 0, 0) == doctest::Approx(5.2847826f));
  CHECK_MESSAGE(y(0, 0, 1) == doctest::Approx(0.7152174f),
                "no mask means no causal mask either: token 0 gives token 1 weight 0.1192");
  CHECK(y(0, 0, 2) == doctest::Approx(0.0f));
  CHECK(y(0, 1, 0) == doctest::Approx(0.7152174f));
  CHECK(y(0, 1, 1) == doctest::Approx(5.2847826f));
}

TEST_CASE("step 6: a score of 200 gives weight one not NaN") {
  // The case above with x0 = (20, 0, 0, 0), x1 = (0, 20, 0, 0): token 0's scores are 400 / 2 = 200 and 0.
  // exp(200) overflows float; subtracting the row max first gives exp(0) = 1 and exp(-200) ~ 0, so
  // token 0 attends to itself alone: 3 * x0 = (60, 0, 0, 0).
  ModelConfig cfg = ModelConfig::tiny();
  cfg.hidden_size = 4;
  cfg.num_attention_heads = 1;
  cfg.num_key_value_heads = 1;
  llm::Rng rng(5);
  llm::Attention attn(cfg, rng);
  *attn.q_proj.weight = identity(4);
  *attn.k_proj.weight = identity(4);
  *attn.v_proj.weight = identity(4);
  *attn.o_proj.weight = identity(4, 3.0f);
  const llm::RotaryEmbedding rope(4, 16, 10000.0f);
  const Tensor x(Shape{1, 2, 4}, {20.0f, 0.0f, 0.0f, 0.0f, 0.0f, 20.0f, 0.0f, 0.0f});  // (B, T, C)
  const Tensor y = attn.forward(x, llm::make_ids({{0, 0}}), /*mask=*/nullptr, /*cache=*/nullptr, rope);
  REQUIRE(y.shape() == Shape({1, 2, 4}));
  CHECK_MESSAGE(std::vector<float>(y.flat().begin(), y.flat().begin() + 4) == std::vector<float>({60.0f, 0.0f, 0.0f, 0.0f}),
                "the softmax in forward must subtract the row max before exp(): exp(200) is inf, inf / inf is NaN");
}

TEST_CASE("step 6: a single token gets o_proj of its values with query head h reading KV head h over G") {
  // One key: its softmax weight is 1, so query head h outputs the value of its KV head h / G whatever
  // q, k and RoPE are. H 4, KV 2, G 2: the concatenated heads are (v0, v0, v1, v1).
  const ModelConfig cfg = gqa_config();
  const Index H = 4, D = cfg.head_dim();
  llm::Rng rng(6);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(D, 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{2, 1, cfg.hidden_size}, rng);  // (B, T 1, C)
  const IdTensor positions = llm::make_ids({{3}, {7}});
  const Tensor y = attn.forward(x, positions, nullptr, nullptr, rope);

  const Tensor v = attn.v_proj.forward(x);  // (B, 1, KV*D)
  Tensor heads(Shape{2, 1, H * D});         // (B, 1, H*D)
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < H; ++h)
      for (Index d = 0; d < D; ++d) heads(b, 0, h * D + d) = v(b, 0, (h / 2) * D + d);
  const Tensor expected = attn.o_proj.forward(heads);  // (B, 1, C)
  REQUIRE_MESSAGE(y.shape() == Shape({2, 1, cfg.hidden_size}), "Attention::forward returns (B, T, C)");
  CHECK_MESSAGE(max_diff(y, expected) < 1e-5f,
                "with one key the output is o_proj(concat_h v[KV head h / G]): check the head mapping h / G "
                "and that o_proj is applied to the concatenated heads");
}

TEST_CASE("step 6: the cache holds the rotated k_proj output and the v_proj output per KV head") {
  const ModelConfig cfg = gqa_config();
  const Index B = 2, T = 3, KV = 2, D = cfg.head_dim();
  llm::Rng rng(7);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(D, 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{B, T, cfg.hidden_size}, rng);  // (B, T, C)
  const IdTensor positions = llm::make_ids({{4, 5, 6}, {0, 1, 2}});
  llm::LayerKVCache cache(B, KV, 8, D);
  (void)attn.forward(x, positions, nullptr, &cache, rope);
  CHECK_MESSAGE(cache.length() == T, "forward appends its T new positions to the cache");

  Tensor k = attn.k_proj.forward(x);  // (B, T, KV*D)
  const Tensor raw_k = k;
  rope.apply(k, positions, KV);
  const Tensor v = attn.v_proj.forward(x);  // (B, T, KV*D)
  const Tensor ks = cache.key_states();     // (B, KV, T, D)
  const Tensor vs = cache.value_states();
  REQUIRE_MESSAGE(ks.shape() == Shape({B, KV, T, D}), "the cache holds KV heads, (B, KV, S, D), not H heads");
  float diff_k = 0.0f, diff_raw = 0.0f, diff_v = 0.0f;
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV; ++h)
      for (Index t = 0; t < T; ++t)
        for (Index d = 0; d < D; ++d) {
          diff_k = std::max(diff_k, std::fabs(ks(b, h, t, d) - k(b, t, h * D + d)));
          diff_raw = std::max(diff_raw, std::fabs(ks(b, h, t, d) - raw_k(b, t, h * D + d)));
          diff_v = std::max(diff_v, std::fabs(vs(b, h, t, d) - v(b, t, h * D + d)));
        }
  CHECK_MESSAGE(diff_k < 1e-5f, "the cached keys are k_proj(x) rotated by RoPE at the given positions");
  CHECK_MESSAGE(diff_raw > 1e-2f, "keys are cached after RoPE, not before");
  CHECK_MESSAGE(diff_v < 1e-5f, "the cached values are v_proj(x), not rotated");
}
