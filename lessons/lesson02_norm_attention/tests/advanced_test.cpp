// advanced_test.cpp — lesson 02's advanced suite: properties of the norms (scale and shift invariance,
// eps, rows), attention's edge cases (all-masked rows, huge scores, shapes), repeat_kv against per-head
// indexing, the cache's limits, and Attention::forward against the composition
// o_proj(concat_heads(SDPA(rope(q), repeat_kv(rope(k)), repeat_kv(v), mask))) written out in this file
// for multi-head, grouped-query and multi-query attention; the caller's mask; the cache against the
// full-sequence run.
// Not here: the decoder layer, the causal mask builder and generation (lessons 03 and 04).
//
// Legend: B batch, T new tokens (queries), P cached positions, S = P + T keys, C hidden, H query heads,
// KV key/value heads, D head_dim, G = H / KV.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
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

using llm::testing::all_finite;
using llm::testing::causal_mask;
using llm::testing::error_message;
using llm::testing::max_diff;
using llm::testing::positions;
using llm::testing::random_tensor;
using llm::testing::tokens;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Attention::forward and the composition below add the same products in different orders (Eigen blocks
// in float versus plain loops in double): the reference differs by at most 2e-6 on these inputs. 1e-4
// leaves room for a student's own order; the h % KV head mapping or a restarted position moves outputs
// by 2.6 to 9.1 here (measured; the sharp initialisation, std 0.3, peaks the attention).
constexpr float kTol = 1e-4f;

// The tiny config's attention (C 32, H 4, D 8) with `kv_heads` KV heads and sharp random weights.
ModelConfig attention_config(int kv_heads) {
  ModelConfig cfg = ModelConfig::tiny();
  cfg.num_key_value_heads = kv_heads;
  cfg.initializer_range = 0.3f;
  return cfg;
}

// Self-attention of x (no cache) written out from the public weights, independent of the code under test:
//   o_proj(concat_h softmax(rope(q_h) rope(k_{kv_of(h)})^T / sqrt(D) + mask) v_{kv_of(h)}).
// kv_of(h) = h / G is what repeat_kv does; other mappings show that the comparison can tell them apart.
Tensor composed_attention(const llm::Attention& attn, const Tensor& x, const IdTensor& positions, const Tensor* mask,
                          const llm::RotaryEmbedding& rope, const std::function<Index(Index)>& kv_of) {
  const Index B = x.size(0), T = x.size(1), H = attn.num_heads(), KV = attn.num_kv_heads(), D = attn.head_dim();
  Tensor q = llm::linear(x, *attn.q_proj.weight);        // (B, T, H*D)
  Tensor k = llm::linear(x, *attn.k_proj.weight);        // (B, T, KV*D)
  const Tensor v = llm::linear(x, *attn.v_proj.weight);  // (B, T, KV*D)
  rope.apply(q, positions, H);
  rope.apply(k, positions, KV);
  Tensor heads(Shape{B, T, H * D});  // (B, T, H*D), zeros for a query that sees nothing
  std::vector<double> w(static_cast<size_t>(T));
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h) {
      const Index j = kv_of(h);
      for (Index t = 0; t < T; ++t) {
        double max = -kInf;
        for (Index s = 0; s < T; ++s) {
          double dot = 0.0;
          for (Index d = 0; d < D; ++d) dot += double{q(b, t, h * D + d)} * double{k(b, s, j * D + d)};
          w[static_cast<size_t>(s)] = dot / std::sqrt(static_cast<double>(D)) + (mask ? (*mask)(b, t, s) : 0.0f);
          max = std::max(max, w[static_cast<size_t>(s)]);
        }
        if (max == -kInf) continue;
        double sum = 0.0;
        for (double& x_s : w) sum += x_s = std::exp(x_s - max);
        for (Index d = 0; d < D; ++d) {
          double acc = 0.0;
          for (Index s = 0; s < T; ++s) acc += w[static_cast<size_t>(s)] / sum * v(b, s, j * D + d);
          heads(b, t, h * D + d) = static_cast<float>(acc);
        }
      }
    }
  return llm::linear(heads, *attn.o_proj.weight);  // (B, T, C)
}

// The GQA equivalence for one KV head count: forward == composition with h / G, and (when the mapping
// differs) != composition with h % KV.
void check_against_composition(int kv_heads) {
  const ModelConfig cfg = attention_config(kv_heads);
  const Index B = 2, T = 5, H = cfg.num_attention_heads, G = H / kv_heads;
  llm::Rng rng(100 + static_cast<std::uint64_t>(kv_heads));
  const llm::Attention attn(cfg, rng);
  REQUIRE(attn.num_heads() == H);
  REQUIRE(attn.num_kv_heads() == kv_heads);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{B, T, cfg.hidden_size}, rng);  // (B, T, C)
  const IdTensor positions = llm::make_ids({{0, 1, 2, 3, 4}, {9, 10, 11, 12, 13}});
  const Tensor mask = causal_mask(B, T);

  for (const Tensor* m : {static_cast<const Tensor*>(nullptr), &mask}) {
    CAPTURE(m != nullptr);
    const Tensor actual = attn.forward(x, positions, m, nullptr, rope);
    const Tensor expected = composed_attention(attn, x, positions, m, rope, [&](Index h) { return h / G; });
    CHECK_MESSAGE(max_diff(actual, expected) <= kTol,
                  "Attention::forward must equal o_proj(concat_heads(SDPA(rope(q), repeat_kv(rope(k)), "
                  "repeat_kv(v), mask))): query head h reads KV head h / G, RoPE on q and k, scale 1/sqrt(D)");
    if (kv_heads > 1 && kv_heads < H) {
      const Tensor interleaved =
          composed_attention(attn, x, positions, m, rope, [&](Index h) { return h % kv_heads; });
      CHECK_MESSAGE(max_diff(actual, interleaved) > 1e-2f,
                    "query head h must not read KV head h % KV (the comparison above can tell the two apart)");
    }
  }
}

}  // namespace

// ================================================================================================
// Step 1: RMSNorm properties
// ================================================================================================

TEST_CASE("step 1: RMSNorm is scale invariant per row") {
  // RMSNorm(a x) = RMSNorm(x) for a > 0 (up to eps), and = -RMSNorm(x) for a < 0: no mean, no shift.
  llm::Rng rng(11);
  const Tensor x = random_tensor(Shape{2, 2, 8}, rng);  // (B, T, C)
  llm::RMSNorm norm(8, 1e-6f);
  norm.weight = random_tensor(Shape{8}, rng);
  const Tensor y = norm.forward(x);
  for (float a : {0.5f, 7.0f, 1000.0f, -3.0f}) {
    CAPTURE(a);
    Tensor scaled = x;
    for (float& v : scaled.flat()) v *= a;
    Tensor expected = y;
    if (a < 0)
      for (float& v : expected.flat()) v = -v;
    CHECK_MESSAGE(max_diff(norm.forward(scaled), expected) < 1e-4f,
                  "RMSNorm(a * x) = sign(a) * RMSNorm(x): dividing by the root mean square removes the scale");
  }
}

TEST_CASE("step 1: a larger eps gives smaller RMSNorm outputs") {
  // x = {1, 2, 3, 4}, w = {1, 1, 2, 2}. eps = 2.5: rms = sqrt(7.5 + 2.5) = sqrt(10) = 3.1622777;
  // y = {1, 2, 3*2, 4*2} / 3.1622777 = {0.3162278, 0.6324555, 1.8973666, 2.5298221}.
  const Tensor x(Shape{4}, {1.0f, 2.0f, 3.0f, 4.0f});
  llm::RMSNorm small(4, 1e-6f), big(4, 2.5f);
  small.weight = big.weight = Tensor(Shape{4}, {1.0f, 1.0f, 2.0f, 2.0f});
  const Tensor ys = small.forward(x), yb = big.forward(x);
  INFO("eps is added to mean(x^2) inside the square root: a larger eps shrinks every output");
  CHECK(yb(0) == doctest::Approx(0.3162278f));
  CHECK(yb(1) == doctest::Approx(0.6324555f));
  CHECK(yb(2) == doctest::Approx(1.8973666f));
  CHECK(yb(3) == doctest::Approx(2.5298221f));
  for (Index i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(yb(i)) < std::fabs(ys(i)));
  }
}

TEST_CASE("step 1: RMSNorm of a zero row is zero not NaN") {
  // mean(x^2) = 0: eps keeps the division finite. A row of 1e-4 (mean square 1e-8, far below eps = 1e-6)
  // comes out near 1e-4 / sqrt(1e-6) = 0.1, not 1: eps dominates tiny rows.
  const llm::RMSNorm norm(4, 1e-6f);
  const Tensor zero = norm.forward(Tensor(Shape{1, 4}));
  CHECK_MESSAGE(all_finite(zero), "eps goes inside the square root so a zero row does not divide by 0");
  CHECK(zero(0, 0) == 0.0f);
  const Tensor tiny = norm.forward(Tensor(Shape{1, 4}, 1e-4f));
  CHECK_MESSAGE(tiny(0, 0) == doctest::Approx(1e-4f / std::sqrt(1e-8f + 1e-6f)),
                "y = x / sqrt(mean(x^2) + eps): eps is added to the mean square, not to the root");
}

// ================================================================================================
// Step 2: LayerNorm properties
// ================================================================================================

TEST_CASE("step 2: a larger eps gives smaller LayerNorm outputs") {
  // x = {1, 2, 3, 4}: mean 2.5, biased var 1.25. eps = 3.75: sqrt(1.25 + 3.75) = sqrt(5) = 2.2360680;
  // y = {-1.5, -0.5, 0.5, 1.5} / 2.2360680 = {-0.6708204, -0.2236068, 0.2236068, 0.6708204}.
  const Tensor x(Shape{4}, {1.0f, 2.0f, 3.0f, 4.0f});
  const Tensor ys = llm::LayerNorm(4, 1e-5f).forward(x);
  const Tensor yb = llm::LayerNorm(4, 3.75f).forward(x);
  INFO("eps is added to the biased variance inside the square root: a larger eps shrinks every output");
  CHECK(yb(0) == doctest::Approx(-0.6708204f));
  CHECK(yb(1) == doctest::Approx(-0.2236068f));
  CHECK(yb(2) == doctest::Approx(0.2236068f));
  CHECK(yb(3) == doctest::Approx(0.6708204f));
  for (Index i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(yb(i)) < std::fabs(ys(i)));
  }
}

TEST_CASE("step 2: LayerNorm ignores a shift and a positive scale of the row") {
  llm::Rng rng(12);
  const Tensor x = random_tensor(Shape{3, 16}, rng);  // (rows, C)
  llm::LayerNorm norm(16, 1e-6f);
  norm.weight = random_tensor(Shape{16}, rng);
  norm.bias = random_tensor(Shape{16}, rng);
  const Tensor y = norm.forward(x);
  Tensor moved = x;
  for (float& v : moved.flat()) v = 5.0f * v + 40.0f;
  CHECK_MESSAGE(max_diff(norm.forward(moved), y) < 1e-3f,
                "LayerNorm(5 x + 40) = LayerNorm(x): the mean removes the shift, the standard deviation the scale");
}

TEST_CASE("step 2: LayerNorm of a 3-D input normalises every row like that row alone") {
  llm::Rng rng(13);
  const Tensor x = random_tensor(Shape{2, 3, 6}, rng, 3.0f);  // (B, T, C)
  llm::LayerNorm norm(6, 1e-5f);
  norm.weight = random_tensor(Shape{6}, rng);
  norm.bias = random_tensor(Shape{6}, rng);
  const Tensor y = norm.forward(x);
  REQUIRE_MESSAGE(y.shape() == x.shape(), "LayerNorm maps (B, T, C) to (B, T, C)");
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 3; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      Tensor row(Shape{6});
      std::copy_n(x.row(b, t).data(), 6, row.data());
      const Tensor alone = norm.forward(row);
      for (Index c = 0; c < 6; ++c)
        CHECK_MESSAGE(y(b, t, c) == doctest::Approx(alone(c)).epsilon(1e-5),
                      "mean and variance are taken over the last dimension C of each row, not over T or B");
    }
}

// ================================================================================================
// Step 3: scaled dot-product attention, edge cases and errors
// ================================================================================================

TEST_CASE("step 3: a query whose keys are all masked gets zeros not NaN") {
  // Query 0 sees nothing (a padding query); query 1 sees key 0 only, so it returns v0 exactly.
  llm::Rng rng(21);
  const Tensor q = random_tensor(Shape{1, 2, 2, 4}, rng);  // (B, H 2, T 2, D)
  const Tensor k = random_tensor(Shape{1, 2, 3, 4}, rng);  // (B, H 2, S 3, D)
  const Tensor v = random_tensor(Shape{1, 2, 3, 4}, rng);
  const Tensor mask(Shape{1, 2, 3}, {-kInf, -kInf, -kInf, 0.0f, -kInf, -kInf});  // (B, T, S)
  const Tensor out = llm::scaled_dot_product_attention(q, k, v, &mask);
  REQUIRE(out.shape() == Shape({1, 2, 2, 4}));
  CHECK_MESSAGE(all_finite(out), "a row of all -inf scores must not give NaN (exp(-inf - -inf) = exp(NaN))");
  for (Index h = 0; h < 2; ++h)
    for (Index d = 0; d < 4; ++d) {
      CAPTURE(h);
      CAPTURE(d);
      CHECK_MESSAGE(out(0, h, 0, d) == 0.0f, "a query whose keys are all masked gets a zero output");
      CHECK_MESSAGE(out(0, h, 1, d) == doctest::Approx(v(0, h, 0, d)),
                    "a query that sees one key copies that key's value (weight 1); the mask is shared by all heads");
    }
}

TEST_CASE("step 3: huge scores do not overflow the softmax") {
  // D = 1: scores q k = 1000 and 999. exp(1000) overflows float; subtracting the row max first gives
  // exp(0) and exp(-1): weights (0.7310586, 0.2689414), out = 0.7310586 * 1 + 0.2689414 * 3 = 1.5378828.
  const Tensor q(Shape{1, 1, 1, 1}, {1000.0f});
  const Tensor k(Shape{1, 1, 2, 1}, {1.0f, 0.999f});
  const Tensor v(Shape{1, 1, 2, 1}, {1.0f, 3.0f});
  const Tensor out = llm::scaled_dot_product_attention(q, k, v);
  REQUIRE(out.shape() == Shape({1, 1, 1, 1}));
  CHECK_MESSAGE(std::isfinite(out(0, 0, 0, 0)), "subtract the row max before exp: exp(1000) is inf in float");
  CHECK(out(0, 0, 0, 0) == doctest::Approx(1.5378828f).epsilon(1e-3));
}

TEST_CASE("step 3: every batch row and head attends on its own with the mask of its batch row") {
  // B 2, H 3, T 2, S 4, D 4; the mask differs per batch row and is shared by the heads. Compared with
  // the definition written out here.
  const Index B = 2, H = 3, T = 2, S = 4, D = 4;
  llm::Rng rng(22);
  const Tensor q = random_tensor(Shape{B, H, T, D}, rng, 1.5f);
  const Tensor k = random_tensor(Shape{B, H, S, D}, rng, 1.5f);
  const Tensor v = random_tensor(Shape{B, H, S, D}, rng);
  Tensor mask(Shape{B, T, S});
  mask(0, 0, 3) = -kInf;
  mask(0, 1, 0) = -1.0f;
  mask(1, 0, 0) = -kInf;
  mask(1, 0, 1) = -kInf;
  mask(1, 1, 2) = 2.0f;
  Tensor expected(Shape{B, H, T, D});
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < T; ++t) {
        std::vector<double> w(S);
        double sum = 0.0;
        for (Index s = 0; s < S; ++s) {
          double dot = 0.0;
          for (Index d = 0; d < D; ++d) dot += double{q(b, h, t, d)} * k(b, h, s, d);
          w[static_cast<size_t>(s)] = std::exp(dot / 2.0 + mask(b, t, s));  // sqrt(D) = 2; small scores
          sum += w[static_cast<size_t>(s)];
        }
        for (Index d = 0; d < D; ++d) {
          double acc = 0.0;
          for (Index s = 0; s < S; ++s) acc += w[static_cast<size_t>(s)] / sum * v(b, h, s, d);
          expected(b, h, t, d) = static_cast<float>(acc);
        }
      }
  const Tensor out = llm::scaled_dot_product_attention(q, k, v, &mask);
  CHECK_MESSAGE(max_diff(out, expected) < 1e-5f,
                "per (b, h, t): softmax over s of q.k_s / sqrt(D) + mask[b][t][s], then the weighted sum of v_s; "
                "the mask is indexed by batch row b and shared by every head");
}

TEST_CASE("step 3: mismatched shapes raise ShapeError naming the shapes") {
  const Tensor q(Shape{1, 2, 3, 4});
  const Tensor k(Shape{1, 2, 5, 4});
  const Tensor v(Shape{1, 2, 5, 4});
  INFO("scaled_dot_product_attention must throw llm::ShapeError whose message names the shapes");
  const Tensor k_wide(Shape{1, 2, 5, 8});  // head_dim 8 against q's 4
  std::string msg = error_message<llm::ShapeError>([&] { llm::scaled_dot_product_attention(q, k_wide, k_wide); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find("(1, 2, 3, 4)") != std::string::npos, "q's shape must be named");
  CHECK_MESSAGE(msg.find("(1, 2, 5, 8)") != std::string::npos, "k's shape must be named");
  const Tensor k_heads(Shape{1, 1, 5, 4});  // 1 head against q's 2: repeat_kv first
  CHECK_THROWS_AS(llm::scaled_dot_product_attention(q, k_heads, k_heads), llm::ShapeError);
  const Tensor v_short(Shape{1, 2, 4, 4});  // 4 values for 5 keys
  CHECK_THROWS_AS(llm::scaled_dot_product_attention(q, k, v_short), llm::ShapeError);
  const Tensor mask(Shape{1, 3, 3});  // (B, T, T) where (B, T, S) = (1, 3, 5) is needed
  msg = error_message<llm::ShapeError>([&] { llm::scaled_dot_product_attention(q, k, v, &mask); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find("(1, 3, 3)") != std::string::npos, "a mask that is not (B, T, S) must be named");
  CHECK_MESSAGE(llm::scaled_dot_product_attention(q, k, v).shape() == q.shape(), "matching shapes are accepted");
}

// ================================================================================================
// Step 4: repeat_kv
// ================================================================================================

TEST_CASE("step 4: attention over repeat_kv equals query head h reading KV head h over n_rep") {
  // SDPA(q, repeat_kv(k, G), repeat_kv(v, G)) head h = SDPA of q head h with KV head h / G, one head at a time.
  const Index B = 2, KV = 2, G = 3, H = KV * G, T = 2, S = 3, D = 4;
  llm::Rng rng(31);
  const Tensor q = random_tensor(Shape{B, H, T, D}, rng, 2.0f);
  const Tensor k = random_tensor(Shape{B, KV, S, D}, rng, 2.0f);
  const Tensor v = random_tensor(Shape{B, KV, S, D}, rng);
  const Tensor out = llm::scaled_dot_product_attention(q, llm::repeat_kv(k, G), llm::repeat_kv(v, G));
  REQUIRE(out.shape() == Shape({B, H, T, D}));
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h) {
      CAPTURE(b);
      CAPTURE(h);
      Tensor qh(Shape{1, 1, T, D}), kh(Shape{1, 1, S, D}), vh(Shape{1, 1, S, D});
      std::copy_n(&q(b, h, 0, 0), T * D, qh.data());
      std::copy_n(&k(b, h / G, 0, 0), S * D, kh.data());
      std::copy_n(&v(b, h / G, 0, 0), S * D, vh.data());
      const Tensor one = llm::scaled_dot_product_attention(qh, kh, vh);
      float diff = 0.0f;
      for (Index i = 0; i < T * D; ++i) diff = std::max(diff, std::fabs(one.data()[i] - (&out(b, h, 0, 0))[i]));
      CHECK_MESSAGE(diff < 1e-6f, "after repeat_kv, query head h attends with KV head h / n_rep of its own batch row");
    }
  CHECK_MESSAGE(max_diff(llm::repeat_kv(k, 1), k) == 0.0f, "repeat_kv with n_rep = 1 returns the input unchanged");
}

TEST_CASE("step 4: repeat_kv rejects n_rep below 1 and a tensor that is not 4-D") {
  const Tensor x(Shape{1, 2, 3, 4});
  for (Index n_rep : {0, -2}) {
    CAPTURE(n_rep);
    const std::string msg = error_message<llm::InvalidArgument>([&] { llm::repeat_kv(x, n_rep); });
    CAPTURE(msg);
    CHECK_MESSAGE(msg.find(std::to_string(n_rep)) != std::string::npos,
                  "repeat_kv must throw llm::InvalidArgument naming n_rep when n_rep < 1");
  }
  CHECK_THROWS_AS_MESSAGE(llm::repeat_kv(Tensor(Shape{2, 3, 4}), 2), llm::ShapeError,
                          "repeat_kv takes (B, KV, S, D): a 3-D tensor is a llm::ShapeError");
}

// ================================================================================================
// Step 5: the cache's limits
// ================================================================================================

TEST_CASE("step 5: append past the capacity raises InvalidArgument naming the lengths") {
  // capacity 10, 7 cached, 6 more: 13 > 10.
  llm::LayerKVCache cache(1, 1, 10, 2);
  const Tensor seven(Shape{1, 7, 2}, 1.0f);
  cache.append(seven, seven);
  const Tensor six(Shape{1, 6, 2}, 2.0f);
  const std::string msg = error_message<llm::InvalidArgument>([&] { cache.append(six, six); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find("10") != std::string::npos, "the overflow message names the capacity (10)");
  CHECK_MESSAGE(msg.find('7') != std::string::npos, "the overflow message names the cached length (7)");
  CHECK_MESSAGE(msg.find('6') != std::string::npos, "the overflow message names the new positions (6)");
  CHECK_MESSAGE(cache.length() == 7, "a refused append leaves the length unchanged");
  const Tensor three(Shape{1, 3, 2}, 3.0f);
  cache.append(three, three);
  CHECK_MESSAGE(cache.length() == 10, "filling the cache exactly to its capacity is allowed");
}

TEST_CASE("step 5: append rejects keys and values of the wrong shape with ShapeError") {
  llm::LayerKVCache cache(2, 2, 8, 4);  // B 2, KV 2, capacity 8, D 4: appends are (2, T, 8)
  const Tensor good(Shape{2, 3, 8});
  INFO("append takes k_new and v_new of the same shape (B, T, KV*D); anything else is a llm::ShapeError");
  CHECK_THROWS_AS(cache.append(Tensor(Shape{1, 3, 8}), Tensor(Shape{1, 3, 8})), llm::ShapeError);  // batch
  CHECK_THROWS_AS(cache.append(Tensor(Shape{2, 3, 16}), Tensor(Shape{2, 3, 16})), llm::ShapeError);  // H heads
  CHECK_THROWS_AS(cache.append(good, Tensor(Shape{2, 4, 8})), llm::ShapeError);  // v differs from k
  CHECK_THROWS_AS(cache.append(Tensor(Shape{2, 8}), Tensor(Shape{2, 8})), llm::ShapeError);  // not 3-D
  CHECK_MESSAGE(cache.length() == 0, "a refused append writes nothing");
  cache.append(good, good);
  CHECK_MESSAGE(cache.length() == 3, "the right shape is accepted");
}

TEST_CASE("step 5: append after crop overwrites the dropped positions") {
  llm::LayerKVCache cache(1, 1, 4, 1);  // B 1, KV 1, capacity 4, D 1
  cache.append(Tensor(Shape{1, 3, 1}, {1.0f, 2.0f, 3.0f}), Tensor(Shape{1, 3, 1}, {-1.0f, -2.0f, -3.0f}));
  cache.crop(1);  // keep position 0
  cache.append(Tensor(Shape{1, 2, 1}, {8.0f, 9.0f}), Tensor(Shape{1, 2, 1}, {-8.0f, -9.0f}));
  REQUIRE_MESSAGE(cache.length() == 3, "after crop(1) the next append starts at position 1");
  const Tensor ks = cache.key_states(), vs = cache.value_states();
  INFO("append writes at position length(): after a crop it overwrites what was dropped");
  CHECK(ks(0, 0, 0, 0) == 1.0f);
  CHECK(ks(0, 0, 1, 0) == 8.0f);
  CHECK(ks(0, 0, 2, 0) == 9.0f);
  CHECK(vs(0, 0, 1, 0) == -8.0f);
  CHECK(vs(0, 0, 2, 0) == -9.0f);
}

// ================================================================================================
// Step 6: Attention::forward against the composition, masks and the cache
// ================================================================================================

TEST_CASE("step 6: multi-head attention with H equal to KV equals the composition") {
  check_against_composition(/*kv_heads=*/4);  // H 4, KV 4, G 1
}

TEST_CASE("step 6: grouped-query attention equals the composition with query head h reading KV head h over G") {
  check_against_composition(/*kv_heads=*/2);  // H 4, KV 2, G 2: heads 0 1 -> KV 0, heads 2 3 -> KV 1
}

TEST_CASE("step 6: multi-query attention with one KV head equals the composition") {
  check_against_composition(/*kv_heads=*/1);  // H 4, KV 1, G 4: every query head reads KV head 0
}

TEST_CASE("step 6: scores far above 88 give finite outputs equal to the composition") {
  // Activations of +-10 with these weights give scores in the hundreds: exp(score) overflows float past
  // 88, so the softmax inside forward must subtract each row's max first, as scaled_dot_product_attention
  // does (step 3), or inf / inf turns the output into NaN.
  const ModelConfig cfg = attention_config(2);
  const Index B = 1, T = 4;
  llm::Rng rng(77);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{B, T, cfg.hidden_size}, rng, 10.0f);  // (B, T, C), activations ~ +-10
  const IdTensor positions = llm::make_ids({{0, 1, 2, 3}});
  const Tensor mask = causal_mask(B, T);
  const Tensor actual = attn.forward(x, positions, &mask, nullptr, rope);
  const Tensor expected = composed_attention(attn, x, positions, &mask, rope, [](Index h) { return h / 2; });
  REQUIRE_MESSAGE(all_finite(actual),
                  "Attention::forward's softmax must subtract the row max before exp(): scores this large overflow");
  float scale = 1.0f;  // outputs are large here: compare relative to their size
  for (const float v : expected.flat()) scale = std::max(scale, std::fabs(v));
  CHECK_MESSAGE(max_diff(actual, expected) <= 1e-4f * scale,
                "large scores: the stable softmax gives the same attention as the definition");
}

TEST_CASE("step 6: without a mask an earlier output changes when a later token changes") {
  // The mask is the caller's: mask == nullptr means every query sees every key, no causal mask implied.
  const ModelConfig cfg = attention_config(2);
  llm::Rng rng(41);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{1, 4, cfg.hidden_size}, rng);  // (B, T, C)
  Tensor changed = x;
  for (float& v : changed.row(0, 3)) v += 1.0f;  // only the last token
  const IdTensor positions = llm::testing::positions(1, 4, 0);
  const Tensor a = attn.forward(x, positions, nullptr, nullptr, rope);
  const Tensor b = attn.forward(changed, positions, nullptr, nullptr, rope);
  CHECK_MESSAGE(max_diff(tokens(a, 0, 1), tokens(b, 0, 1)) > 1e-3f,
                "with mask == nullptr attention applies no causal mask of its own: token 0 sees token 3, so "
                "changing token 3 must change token 0's output");
}

TEST_CASE("step 6: with a causal mask earlier outputs ignore later tokens") {
  const ModelConfig cfg = attention_config(2);
  llm::Rng rng(42);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{2, 5, cfg.hidden_size}, rng);  // (B, T, C)
  Tensor changed = x;
  for (Index b = 0; b < 2; ++b)
    for (float& v : changed.row(b, 3)) v -= 2.0f;  // token 3 of both rows
  const IdTensor positions = llm::testing::positions(2, 5, 0);
  const Tensor mask = causal_mask(2, 5);
  const Tensor a = attn.forward(x, positions, &mask, nullptr, rope);
  const Tensor b = attn.forward(changed, positions, &mask, nullptr, rope);
  CHECK_MESSAGE(max_diff(tokens(a, 0, 3), tokens(b, 0, 3)) == 0.0f,
                "with the causal mask, tokens 0..2 must not depend on token 3 at all (-inf removes it exactly)");
  CHECK_MESSAGE(max_diff(tokens(a, 3, 5), tokens(b, 3, 5)) > 1e-3f, "tokens 3 and 4 do see token 3");
}

TEST_CASE("step 6: the cache holds B KV S D keys rotated at their own positions before head repetition") {
  // Two chunks, 3 then 2 tokens, positions 0 1 2 then 3 4: the cache holds 5 positions of KV = 2 heads,
  // each key rotated at its absolute position, equal to the k_proj output of a single full run.
  const ModelConfig cfg = attention_config(2);
  const Index B = 2, T = 5, KV = 2, D = cfg.head_dim();
  llm::Rng rng(43);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(D, 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{B, T, cfg.hidden_size}, rng);
  llm::LayerKVCache cache(B, KV, 16, D);
  const Tensor m1 = causal_mask(B, 3), m2 = causal_mask(B, 2, 3);
  (void)attn.forward(tokens(x, 0, 3), positions(B, 3, 0), &m1, &cache, rope);
  (void)attn.forward(tokens(x, 3, 5), positions(B, 2, 3), &m2, &cache, rope);
  REQUIRE_MESSAGE(cache.length() == 5, "each forward appends its tokens: 3 + 2 = 5 positions");

  Tensor k = attn.k_proj.forward(x);  // (B, T, KV*D)
  rope.apply(k, positions(B, T, 0), KV);
  const Tensor v = attn.v_proj.forward(x);
  const Tensor ks = cache.key_states(), vs = cache.value_states();  // (B, KV, S, D)
  REQUIRE_MESSAGE(ks.shape() == Shape({B, KV, T, D}),
                  "the cache stores the KV heads before repetition: (B, KV, S, D), not (B, H, S, D)");
  float diff_k = 0.0f, diff_v = 0.0f;
  for (Index b = 0; b < B; ++b)
    for (Index j = 0; j < KV; ++j)
      for (Index s = 0; s < T; ++s)
        for (Index d = 0; d < D; ++d) {
          diff_k = std::max(diff_k, std::fabs(ks(b, j, s, d) - k(b, s, j * D + d)));
          diff_v = std::max(diff_v, std::fabs(vs(b, j, s, d) - v(b, s, j * D + d)));
        }
  CHECK_MESSAGE(diff_k < 1e-5f, "cached keys are k_proj(x) of KV head j, rotated at the token's own position "
                                "(3 and 4 for the second chunk, not 0 and 1)");
  CHECK_MESSAGE(diff_v < 1e-5f, "cached values are v_proj(x) of KV head j");
}

TEST_CASE("step 6: decoding one token at a time with a cache equals the full causal run") {
  for (int kv_heads : {4, 2, 1}) {
    CAPTURE(kv_heads);
    const ModelConfig cfg = attention_config(kv_heads);
    const Index B = 2, T = 6, D = cfg.head_dim();
    llm::Rng rng(44);
    const llm::Attention attn(cfg, rng);
    const llm::RotaryEmbedding rope(D, 64, cfg.rope_theta);
    const Tensor x = random_tensor(Shape{B, T, cfg.hidden_size}, rng);
    const Tensor full_mask = causal_mask(B, T);
    const Tensor full = attn.forward(x, positions(B, T, 0), &full_mask, nullptr, rope);

    // Prefill 2 tokens, then one token per step; each step sees every cached key (mask of zeros).
    llm::LayerKVCache cache(B, kv_heads, T, D);
    const Tensor m = causal_mask(B, 2);
    const Tensor pre = attn.forward(tokens(x, 0, 2), positions(B, 2, 0), &m, &cache, rope);
    CHECK_MESSAGE(max_diff(pre, tokens(full, 0, 2)) <= kTol, "a causal prefill equals the first tokens of the full run");
    for (Index t = 2; t < T; ++t) {
      CAPTURE(t);
      const Tensor step_mask(Shape{B, 1, t + 1});  // (B, 1, P + 1), all visible
      const Tensor y = attn.forward(tokens(x, t, t + 1), positions(B, 1, t), &step_mask, &cache, rope);
      CHECK_MESSAGE(max_diff(y, tokens(full, t, t + 1)) <= kTol,
                    "a decode step attends to the P cached keys plus its own: it must equal position t of the "
                    "full causal run (positions continue at P, keys cached after RoPE)");
      CHECK(cache.length() == t + 1);
    }
    // The same last step at position 0 instead of T - 1: a different result, so positions were checked.
    cache.crop(T - 1);
    const Tensor wrong = attn.forward(tokens(x, T - 1, T), positions(B, 1, 0), nullptr, &cache, rope);
    CHECK_MESSAGE(max_diff(wrong, tokens(full, T - 1, T)) > 1e-2f,
                  "restarting positions at 0 after the cache changes the output (the check above can tell)");
  }
}

TEST_CASE("step 6: a full cache raises InvalidArgument naming the lengths and is left as it was") {
  const ModelConfig cfg = attention_config(2);
  llm::Rng rng(45);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{1, 3, cfg.hidden_size}, rng);
  llm::LayerKVCache cache(1, 2, 4, cfg.head_dim());  // capacity 4
  (void)attn.forward(x, positions(1, 3, 0), nullptr, &cache, rope);
  const Tensor before = cache.key_states();
  const std::string msg = error_message<llm::InvalidArgument>(
      [&] { (void)attn.forward(tokens(x, 0, 2), positions(1, 2, 3), nullptr, &cache, rope); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find('4') != std::string::npos, "3 cached + 2 new > capacity 4: the message names the capacity");
  CHECK_MESSAGE(msg.find('3') != std::string::npos, "the message names the cached length");
  CHECK_MESSAGE(cache.length() == 3, "a refused forward leaves the cache length as it was");
  CHECK(max_diff(cache.key_states(), before) == 0.0f);
}

TEST_CASE("step 6: a mask of the wrong shape raises ShapeError before the cache is written") {
  // With P = 2 cached and T = 1 new the mask must be (B, T, P + T) = (1, 1, 3); (1, 1, 1) is refused.
  const ModelConfig cfg = attention_config(2);
  llm::Rng rng(46);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{1, 3, cfg.hidden_size}, rng);
  llm::LayerKVCache cache(1, 2, 8, cfg.head_dim());
  (void)attn.forward(tokens(x, 0, 2), positions(1, 2, 0), nullptr, &cache, rope);
  REQUIRE(cache.length() == 2);
  const Tensor short_mask(Shape{1, 1, 1});
  CHECK_THROWS_AS_MESSAGE(attn.forward(tokens(x, 2, 3), positions(1, 1, 2), &short_mask, &cache, rope),
                          llm::ShapeError, "the mask covers the cached keys too: (B, T, P + T)");
  CHECK_MESSAGE(cache.length() == 2, "check the mask before appending: a refused call must not grow the cache");
  const Tensor mask(Shape{1, 1, 3});
  CHECK_MESSAGE(attn.forward(tokens(x, 2, 3), positions(1, 1, 2), &mask, &cache, rope).shape() ==
                    Shape({1, 1, cfg.hidden_size}),
                "the (1, 1, 3) mask is accepted");
}

TEST_CASE("step 6: a fully masked query gets a zero output from forward") {
  // Row 1's first token is padding: its mask row is all -inf, so its attention is 0 and o_proj(0) = 0.
  const ModelConfig cfg = attention_config(2);
  llm::Rng rng(47);
  const llm::Attention attn(cfg, rng);
  const llm::RotaryEmbedding rope(cfg.head_dim(), 64, cfg.rope_theta);
  const Tensor x = random_tensor(Shape{2, 3, cfg.hidden_size}, rng);
  Tensor mask = causal_mask(2, 3);
  for (Index t = 0; t < 3; ++t) mask(1, t, 0) = -kInf;  // key 0 of row 1 is padding
  const Tensor y = attn.forward(x, positions(2, 3, 0), &mask, nullptr, rope);
  CHECK_MESSAGE(all_finite(y), "an all-masked query must not produce NaN");
  for (Index c = 0; c < cfg.hidden_size; ++c) {
    CAPTURE(c);
    CHECK_MESSAGE(y(1, 0, c) == 0.0f, "the padding query sees no key: its output is zero");
  }
  const Tensor expected =
      composed_attention(attn, x, positions(2, 3, 0), &mask, rope, [](Index h) { return h / 2; });
  CHECK_MESSAGE(max_diff(y, expected) <= kTol, "the other queries are ordinary attention with the caller's mask");
}
