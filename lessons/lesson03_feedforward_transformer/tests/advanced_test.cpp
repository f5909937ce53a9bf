// advanced_test.cpp — lesson 03's advanced suite: properties of SiLU and GELU over the float range,
// activate() at the extremes and on a bad enum value, the MLP's gate seen through linearity, per-token
// independence and odd sizes, and the decoder block's equivalences: cached decoding and chunked prefill
// against the full causal run (MHA, GQA, MQA), causality, independent batch rows, the scale invariance
// pre-norm gives, what the block hands the cache, and bad input.
// Not here: the hand-worked values of each step (basic_test.cpp) and stacks of blocks, masks built from
// padding and the real stories260K model (lesson 04).
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden_size, F intermediate_size,
// H query heads, KV key/value heads, D head_dim.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "decoder_layer.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/linear.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "mlp.h"
#include "test_blocks.h"
#include "test_support.h"

using llm::Activation;
using llm::DecoderLayer;
using llm::IdTensor;
using llm::Index;
using llm::LayerKVCache;
using llm::MLP;
using llm::ModelConfig;
using llm::RotaryEmbedding;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson03_test::block_config;
using lesson03_test::distinct_norm_layer;
using lesson03_test::expected_mlp;
using lesson03_test::ref_act;
using llm::testing::causal_mask;
using llm::testing::max_diff;
using llm::testing::positions;
using llm::testing::seeded;
using llm::testing::tokens;

constexpr float kMaxFloat = std::numeric_limits<float>::max();
// Cached and full runs sum the same float32 products in a different order (matrix-vector products over
// the cache versus one matrix-matrix product), and the compositions below are built from the same
// pieces as the block: measured differences are at most ~1e-6 on these O(1) outputs. 1e-4 leaves room
// for another summation order; a wrong position, a lost cache entry or a misplaced norm moves the
// outputs by 1e-1 or more here.
constexpr float kTol = 1e-4f;

Tensor scaled(Tensor t, float s) {
  for (float& v : t.flat()) v *= s;
  return t;
}

// Batch row b of a (B, T, C) tensor, as (1, T, C).
Tensor batch_row(const Tensor& x, Index b) {
  const Index T = x.size(1), C = x.size(2);
  Tensor out(Shape{1, T, C});
  std::copy_n(x.row(b, 0).data(), T * C, out.data());
  return out;
}

RotaryEmbedding rope_for(const ModelConfig& cfg) {
  return RotaryEmbedding(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
}

// The block run over `x` (B, N, C) in chunks of the given sizes through one LayerKVCache; each chunk's
// mask is causal and aligned bottom-right with the P positions cached before it. Returns (B, N, C).
Tensor run_in_chunks(const DecoderLayer& layer, const ModelConfig& cfg, const RotaryEmbedding& rope, const Tensor& x,
                     const std::vector<Index>& chunks) {
  const Index B = x.size(0), N = x.size(1), C = x.size(2);
  LayerKVCache cache(B, cfg.num_key_value_heads, N, cfg.head_dim());
  Tensor out(Shape{B, N, C});
  Index P = 0;
  for (const Index T : chunks) {
    CAPTURE(P);
    CAPTURE(T);
    const Tensor mask = causal_mask(B, T, P);
    const Tensor y = layer.forward(tokens(x, P, P + T), positions(B, T, P), &mask, &cache, rope);
    REQUIRE_MESSAGE(y.shape() == Shape({B, T, C}), "a chunk of T tokens gives (B, T, C)");
    REQUIRE_MESSAGE(cache.length() == P + T, "the block must hand its LayerKVCache to self_attn, which appends "
                                             "the chunk's T positions");
    for (Index b = 0; b < B; ++b) std::copy_n(y.row(b, 0).data(), T * C, out.row(b, P).data());
    P += T;
  }
  REQUIRE(P == N);
  return out;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: SiLU and GELU
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: silu(x) - silu(-x) = x and gelu(x) - gelu(-x) = x") {
  // x s(x) - (-x) s(-x) = x (s(x) + s(-x)) = x, because sigmoid(x) + sigmoid(-x) = 1 and
  // Phi(x) + Phi(-x) = 1. A dropped 0.5 or a wrong scale inside the function breaks it.
  for (int i = -32; i <= 32; ++i) {
    const float x = 0.25f * static_cast<float>(i);
    CAPTURE(x);
    CHECK_MESSAGE(llm::silu(x) - llm::silu(-x) == doctest::Approx(x).epsilon(1e-5),
                  "silu(x) - silu(-x) must be x: silu(x) = x * sigmoid(x)");
    CHECK_MESSAGE(llm::gelu(x) - llm::gelu(-x) == doctest::Approx(x).epsilon(1e-5),
                  "gelu(x) - gelu(-x) must be x: gelu(x) = x * Phi(x) with the factor 0.5 in Phi");
  }
}

TEST_CASE("step 1: silu and gelu are finite and bounded below over the float range") {
  // The minimum of silu is -0.2784645 at x = -1.2784645; that of gelu -0.1699712 at x = -0.7517916.
  CHECK_MESSAGE(llm::silu(-1.2784645f) == doctest::Approx(-0.2784645f), "the minimum of silu is -0.2784645");
  CHECK_MESSAGE(llm::gelu(-0.7517916f) == doctest::Approx(-0.1699712f), "the minimum of gelu is -0.1699712");
  const std::vector<float> xs = {-kMaxFloat, -1e30f, -1e4f, -88.7f, -50.0f, -10.0f, -1.0f, -1e-30f, -1e-40f, 0.0f,
                                 1e-40f,     1e-30f, 1.0f,  10.0f,  50.0f,  88.8f,  1e4f,  1e30f};
  for (const float x : xs) {
    CAPTURE(x);
    const float s = llm::silu(x);
    const float g = llm::gelu(x);
    CHECK_MESSAGE(std::isfinite(s), "silu must be finite for every finite input");
    CHECK_MESSAGE(std::isfinite(g), "gelu must be finite from -FLT_MAX up to 1e30");
    CHECK_MESSAGE(s >= -0.2784646f, "silu never goes below its minimum -0.2784645");
    CHECK_MESSAGE(g >= -0.1699713f, "gelu never goes below its minimum -0.1699712");
    CHECK_MESSAGE(s <= std::max(x, 0.0f), "silu(x) is at most max(x, 0): sigmoid is in [0, 1]");
    CHECK_MESSAGE(g <= std::max(x, 0.0f), "gelu(x) is at most max(x, 0)");
  }
  CHECK_MESSAGE(std::isfinite(llm::silu(kMaxFloat)), "silu(FLT_MAX) = FLT_MAX * sigmoid(FLT_MAX) is finite");
  CHECK(llm::silu(kMaxFloat) == doctest::Approx(kMaxFloat));
}

// ------------------------------------------------------------------------------------------------
// Step 2: the activation applied to a tensor
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: activate agrees with the scalar definitions at the extremes on any rank") {
  // A vectorised exp may clamp or overflow differently from std::exp: the tensor path must still give
  // 0 far left, x far right, and never NaN.
  const std::vector<float> xs = {-kMaxFloat, -1e30f, -1000.0f, -88.0f, -20.0f, -1e-30f, 0.0f, 1e-30f,
                                 0.75f,      20.0f,  88.0f,    1000.0f, 1e30f,  -3.0f,  3.0f, -0.75f};
  const Tensor x4(Shape{2, 2, 2, 2}, xs);   // rank 4
  const Tensor x1(Shape{16}, xs);           // rank 1
  for (const Activation act : {Activation::kSiLU, Activation::kGELU}) {
    CAPTURE(llm::activation_name(act));
    for (const Tensor* x : {&x4, &x1}) {
      const Tensor y = llm::activate(*x, act);
      REQUIRE_MESSAGE(y.shape() == x->shape(), "activate keeps the shape " << x->shape().str());
      for (Index i = 0; i < y.numel(); ++i) {
        CAPTURE(xs[static_cast<size_t>(i)]);
        CHECK_MESSAGE(!std::isnan(y.data()[i]), "activate must not produce NaN for a finite input");
        CHECK_MESSAGE(y.data()[i] == doctest::Approx(ref_act(xs[static_cast<size_t>(i)], act)),
                      "activate must equal the scalar silu / gelu on every element, extremes included");
      }
    }
  }
}

TEST_CASE("step 2: activate rejects an activation that is neither silu nor gelu") {
  const Tensor x(Shape{2, 3}, 1.0f);
  const auto bogus = static_cast<Activation>(7);
  INFO("an unknown Activation value must be an llm::InvalidArgument naming the value, not a silent fall-through");
  CHECK_THROWS_WITH_AS(llm::activate(x, bogus), doctest::Contains("7"), llm::InvalidArgument);
}

// ------------------------------------------------------------------------------------------------
// Step 3: the gated MLP
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: the MLP is linear in up_proj and down_proj but not in gate_proj") {
  // down(act(gate x) * up x): doubling up_proj or down_proj doubles the output; doubling gate_proj
  // does not, because the activation sits on the gate. With the activation on up_proj instead, the
  // roles of the two projections swap and the first check fails.
  for (const Activation act : {Activation::kSiLU, Activation::kGELU}) {
    CAPTURE(llm::activation_name(act));
    ModelConfig cfg = block_config();
    cfg.hidden_act = act;
    llm::Rng rng(31);
    const MLP base(cfg, rng);
    const Tensor x = seeded(Shape{2, 3, cfg.hidden_size}, 32);  // (B, T, C)
    const Tensor y = base.forward(x);
    const Tensor twice = scaled(y, 2.0f);

    MLP up2 = base;
    up2.up_proj = llm::Linear(scaled(*base.up_proj.weight, 2.0f));
    CHECK_MESSAGE(max_diff(up2.forward(x), twice) < kTol,
                  "up_proj enters linearly: doubling it must double the output (is the activation on up_proj?)");
    MLP down2 = base;
    down2.down_proj = llm::Linear(scaled(*base.down_proj.weight, 2.0f));
    CHECK_MESSAGE(max_diff(down2.forward(x), twice) < kTol, "down_proj is the last, linear step");
    MLP gate2 = base;
    gate2.gate_proj = llm::Linear(scaled(*base.gate_proj.weight, 2.0f));
    CHECK_MESSAGE(max_diff(gate2.forward(x), twice) > 1e-2f,
                  "the activation goes on gate_proj: doubling the gate must not simply double the output");
  }
}

TEST_CASE("step 3: every token goes through the MLP on its own") {
  // The MLP is position-wise: token (b, t) of a (B, T, C) batch gives what that token alone, as (C,), gives.
  const ModelConfig cfg = block_config();
  llm::Rng rng(33);
  const MLP mlp(cfg, rng);
  const Index B = 2, T = 4, C = cfg.hidden_size;
  const Tensor x = seeded(Shape{B, T, C}, 34);
  const Tensor y = mlp.forward(x);
  REQUIRE(y.shape() == x.shape());
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      Tensor one(Shape{C});
      std::copy_n(x.row(b, t).data(), C, one.data());
      const Tensor alone = mlp.forward(one);
      REQUIRE_MESSAGE(alone.shape() == Shape{C}, "a single token (C,) gives (C,)");
      float diff = 0.0f;
      for (Index c = 0; c < C; ++c) diff = std::max(diff, std::fabs(alone(c) - y(b, t, c)));
      CHECK_MESSAGE(diff < kTol, "the MLP must not mix tokens: each output row depends on its own input row only");
    }
}

TEST_CASE("step 3: one decode token through the stories260K sizes C 64 and F 172") {
  // F = 172 is llama2.c's int(8/3 C) = 170 rounded up to a multiple of 4: not a multiple of C, so F and
  // C cannot be confused. One token (1, 1, C) is the decode step's matrix-vector path.
  for (const Activation act : {Activation::kSiLU, Activation::kGELU}) {
    CAPTURE(llm::activation_name(act));
    ModelConfig cfg = ModelConfig::stories260k();
    cfg.hidden_act = act;
    cfg.initializer_range = 0.1f;
    llm::Rng rng(35);
    const MLP mlp(cfg, rng);
    REQUIRE(mlp.gate_proj.weight->shape() == Shape({172, 64}));
    for (const Index T : {Index{1}, Index{3}}) {
      CAPTURE(T);
      const Tensor x = seeded(Shape{1, T, 64}, 36);  // (B, T, C)
      const Tensor y = mlp.forward(x);
      REQUIRE_MESSAGE(y.shape() == Shape({1, T, 64}), "(B, T, C) in, (B, T, C) out, with F = 172 inside");
      CHECK_MESSAGE(max_diff(y, expected_mlp(mlp, x, act)) < kTol, "down(act(gate x) * up x) with the config's act");
    }
  }
}

TEST_CASE("step 3: an input whose last dimension is not hidden_size is a ShapeError") {
  const ModelConfig cfg = block_config();
  llm::Rng rng(37);
  const MLP mlp(cfg, rng);
  INFO("MLP::forward takes (..., C): any other last dimension must be an llm::ShapeError");
  CHECK_THROWS_AS(mlp.forward(Tensor(Shape{2, 3, cfg.hidden_size + 1})), llm::ShapeError);
  CHECK_THROWS_AS(mlp.forward(Tensor(Shape{2, cfg.intermediate_size})), llm::ShapeError);
}

// ------------------------------------------------------------------------------------------------
// Step 4: the decoder block
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: prefill then one token at a time through a LayerKVCache equals the full causal run") {
  const ModelConfig cfg = block_config();  // H 4, KV 2: grouped-query attention
  const DecoderLayer layer = distinct_norm_layer(cfg, 41);
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 2, N = 7;
  const Tensor x = seeded(Shape{B, N, cfg.hidden_size}, 42);  // (B, N, C)
  const Tensor full_mask = causal_mask(B, N);
  const Tensor full = layer.forward(x, positions(B, N), &full_mask, nullptr, rope);

  const Tensor cached = run_in_chunks(layer, cfg, rope, x, {3, 1, 1, 1, 1});
  CHECK_MESSAGE(max_diff(cached, full) < kTol,
                "prefill 3 + four decode steps must reproduce the full run: the block passes positions, mask and "
                "cache through to self_attn unchanged");
}

TEST_CASE("step 4: chunked prefill equals the full causal run") {
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 43);
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 2, N = 8;
  const Tensor x = seeded(Shape{B, N, cfg.hidden_size}, 44);
  const Tensor full_mask = causal_mask(B, N);
  const Tensor full = layer.forward(x, positions(B, N), &full_mask, nullptr, rope);
  CHECK_MESSAGE(max_diff(run_in_chunks(layer, cfg, rope, x, {2, 3, 1, 2}), full) < kTol,
                "chunks of 2 + 3 + 1 + 2 tokens with a cache must give the full run's outputs");
  CHECK_MESSAGE(max_diff(run_in_chunks(layer, cfg, rope, x, {5, 3}), full) < kTol,
                "chunks of 5 + 3 tokens with a cache must give the full run's outputs");
}

TEST_CASE("step 4: cached decoding equals the full run for MHA GQA and MQA") {
  struct Heads {
    int h, kv;
  };
  for (const Heads heads : {Heads{4, 4}, Heads{4, 1}, Heads{8, 2}}) {
    CAPTURE(heads.h);
    CAPTURE(heads.kv);
    const ModelConfig cfg = block_config(heads.h, heads.kv);
    const DecoderLayer layer = distinct_norm_layer(cfg, 45);
    const RotaryEmbedding rope = rope_for(cfg);
    const Index B = 2, N = 6;
    const Tensor x = seeded(Shape{B, N, cfg.hidden_size}, 46);
    const Tensor full_mask = causal_mask(B, N);
    const Tensor full = layer.forward(x, positions(B, N), &full_mask, nullptr, rope);
    CHECK_MESSAGE(max_diff(run_in_chunks(layer, cfg, rope, x, {2, 1, 1, 1, 1}), full) < kTol,
                  "with any number of KV heads, a block decoded through its cache equals the full run");
  }
}

TEST_CASE("step 4: with a causal mask earlier outputs ignore later tokens and without one they do not") {
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 47);
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 1, T = 5, C = cfg.hidden_size;
  const Tensor x = seeded(Shape{B, T, C}, 48);
  Tensor x_changed = x;  // only the last token differs
  for (Index c = 0; c < C; ++c) x_changed(0, T - 1, c) += 1.0f;
  const IdTensor pos = positions(B, T);

  const Tensor mask = causal_mask(B, T);
  const Tensor a = layer.forward(x, pos, &mask, nullptr, rope);
  const Tensor b = layer.forward(x_changed, pos, &mask, nullptr, rope);
  CHECK_MESSAGE(max_diff(tokens(a, 0, T - 1), tokens(b, 0, T - 1)) < 1e-6f,
                "with the causal mask, positions 0..T-2 must not see the last token: hand the mask to self_attn");
  CHECK_MESSAGE(max_diff(tokens(a, T - 1, T), tokens(b, T - 1, T)) > 1e-2f, "the last output must depend on the last token");

  const Tensor open_a = layer.forward(x, pos, nullptr, nullptr, rope);
  const Tensor open_b = layer.forward(x_changed, pos, nullptr, nullptr, rope);
  CHECK_MESSAGE(max_diff(tokens(open_a, 0, 1), tokens(open_b, 0, 1)) > 1e-3f,
                "mask == nullptr means every query sees every key: the block must not add a causal mask of its own");
}

TEST_CASE("step 4: batch rows are independent") {
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 49);
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 3, T = 4;
  const Tensor x = seeded(Shape{B, T, cfg.hidden_size}, 50);
  const Tensor mask = causal_mask(B, T);
  const Tensor out = layer.forward(x, positions(B, T), &mask, nullptr, rope);
  const Tensor mask1 = causal_mask(1, T);
  for (Index b = 0; b < B; ++b) {
    CAPTURE(b);
    const Tensor alone = layer.forward(batch_row(x, b), positions(1, T), &mask1, nullptr, rope);
    CHECK_MESSAGE(max_diff(alone, batch_row(out, b)) < kTol,
                  "row b of a batch must equal row b run alone: norms, attention and MLP never mix batch rows");
  }
}

TEST_CASE("step 4: pre-norm makes the attention update independent of the scale of x") {
  // With down_proj zeroed, out - x = self_attn(input_layernorm(x)), and RMSNorm(s x) = RMSNorm(x) when
  // eps = 0, so out(s x) - s x = out(x) - x. Post-norm, or attention fed the raw x, breaks this.
  // (With eps = 1e-6 the update at s = 0.25 already moves by 5e-5: eps matters once mean(x^2) is small.)
  const ModelConfig cfg = block_config();
  DecoderLayer layer = distinct_norm_layer(cfg, 51);
  layer.mlp.down_proj.weight->fill(0.0f);
  layer.input_layernorm.eps = 0.0f;
  layer.post_attention_layernorm.eps = 0.0f;
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 2, T = 4;
  const Tensor x = seeded(Shape{B, T, cfg.hidden_size}, 52);
  const Tensor mask = causal_mask(B, T);
  const IdTensor pos = positions(B, T);
  const Tensor update = llm::add(layer.forward(x, pos, &mask, nullptr, rope), scaled(x, -1.0f));
  CHECK_MESSAGE(max_diff(update, Tensor(update.shape())) > 1e-1f, "attention must change the residual stream");
  for (const float s : {0.25f, 8.0f}) {
    CAPTURE(s);
    const Tensor xs = scaled(x, s);
    const Tensor update_s = llm::add(layer.forward(xs, pos, &mask, nullptr, rope), scaled(xs, -1.0f));
    CHECK_MESSAGE(max_diff(update_s, update) < kTol,
                  "attention must read input_layernorm(x), so scaling x leaves its update unchanged (pre-norm), and "
                  "the update is added to the unnormalised x");
  }
}

TEST_CASE("step 4: the cache receives the values of input_layernorm of x") {
  // The block hands self_attn the normalised x and its cache: the cached V of the T new tokens is
  // v_proj(input_layernorm(x)), laid out (B, KV, T, D). V is not rotated, so it can be checked directly.
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 53);
  const RotaryEmbedding rope = rope_for(cfg);
  const Index B = 2, T = 3, KV = cfg.num_key_value_heads, D = cfg.head_dim();
  const Tensor x = seeded(Shape{B, T, cfg.hidden_size}, 54);
  LayerKVCache cache(B, KV, 8, D);
  const Tensor mask = causal_mask(B, T);
  (void)layer.forward(x, positions(B, T), &mask, &cache, rope);
  REQUIRE_MESSAGE(cache.length() == T, "the block must pass its cache to self_attn, which appends T positions");

  const Tensor v = llm::linear(layer.input_layernorm.forward(x), *layer.self_attn.v_proj.weight);  // (B, T, KV*D)
  const Tensor cached = cache.value_states();                                                     // (B, KV, T, D)
  float diff = 0.0f;
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV; ++h)
      for (Index t = 0; t < T; ++t)
        for (Index d = 0; d < D; ++d) diff = std::max(diff, std::fabs(cached(b, h, t, d) - v(b, t, h * D + d)));
  CHECK_MESSAGE(diff < kTol, "self_attn must see input_layernorm(x), the normalised input, not x or the other norm");
}

TEST_CASE("step 4: an input whose hidden size is wrong is a ShapeError") {
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 55);
  const RotaryEmbedding rope = rope_for(cfg);
  const Tensor x(Shape{1, 2, cfg.hidden_size + 2});
  const Tensor mask = causal_mask(1, 2);
  INFO("a (B, T, C') input with C' != hidden_size must be an llm::ShapeError (the norms and projections check it)");
  CHECK_THROWS_AS(layer.forward(x, positions(1, 2), &mask, nullptr, rope), llm::ShapeError);
}
