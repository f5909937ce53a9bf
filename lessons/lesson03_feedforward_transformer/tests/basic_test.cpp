// basic_test.cpp — lesson 03's basic suite: hand-checked values of SiLU and GELU (step 1), the
// activation applied to a tensor (step 2), a hand-sized SwiGLU / GeGLU MLP worked out on paper and the
// config's choice between them (step 3), and the decoder block with its sub-blocks switched off one at
// a time and against lesson 02's blocks composed by hand (step 4).
// Not here: the KV cache, GQA variants, causality, properties over many inputs and invalid inputs —
// those are in advanced_test.cpp.
//
// Legend: B batch, T new tokens, C hidden_size, F intermediate_size.
#include <doctest/doctest.h>

#include <cmath>
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
using llm::MLP;
using llm::ModelConfig;
using llm::RotaryEmbedding;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson03_test::block_config;
using lesson03_test::distinct_norm_layer;
using lesson03_test::expected_mlp;
using lesson03_test::ref_gelu;
using lesson03_test::ref_silu;
using llm::testing::causal_mask;
using llm::testing::max_diff;
using llm::testing::positions;
using llm::testing::seeded;

// The block and the MLP are compared with compositions the test builds from the same float32 pieces:
// measured differences are below 1e-6 on these values (|x| up to ~5), and 1e-4 leaves room for another
// summation order. A real mistake (a swapped norm, a missing residual, the gate on the wrong projection)
// moves outputs by 0.5 or more in these cases.
constexpr float kTol = 1e-4f;

// The hand-sized MLP of the step 3 cases: C = 2, F = 3.
//   gate_proj = [[1, 0], [0, -1], [1, 1]]   up_proj = [[0, 1], [1, 1], [1, -1]]   down_proj = [[1, 1, 0], [0, 1, -1]]
MLP hand_mlp(Activation act) {
  MLP mlp;
  mlp.gate_proj = llm::Linear(Tensor(Shape{3, 2}, std::vector<float>{1, 0, 0, -1, 1, 1}));   // (F, C)
  mlp.up_proj = llm::Linear(Tensor(Shape{3, 2}, std::vector<float>{0, 1, 1, 1, 1, -1}));     // (F, C)
  mlp.down_proj = llm::Linear(Tensor(Shape{2, 3}, std::vector<float>{1, 1, 0, 0, 1, -1}));   // (C, F)
  mlp.act = act;
  return mlp;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: SiLU and GELU
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: silu matches hand values") {
  INFO("silu(x) = x * sigmoid(x) = x / (1 + exp(-x))");
  CHECK_MESSAGE(llm::silu(0.0f) == 0.0f, "silu(0) = 0 / (1 + 1) = 0");
  CHECK_MESSAGE(llm::silu(1.0f) == doctest::Approx(0.7310586f), "silu(1) = 1 / (1 + e^-1) = 0.7310586");
  CHECK_MESSAGE(llm::silu(-1.0f) == doctest::Approx(-0.2689414f), "silu(-1) = -1 / (1 + e) = -0.2689414");
  CHECK_MESSAGE(llm::silu(2.0f) == doctest::Approx(1.7615941f), "silu(2) = 2 / (1 + e^-2) = 1.7615941");
  CHECK_MESSAGE(llm::silu(-2.0f) == doctest::Approx(-0.2384058f), "silu(-2) = -2 / (1 + e^2) = -0.2384058");
  CHECK_MESSAGE(llm::silu(0.5f) == doctest::Approx(0.3112297f), "silu(0.5) = 0.5 / (1 + e^-0.5) = 0.3112297");
}

TEST_CASE("step 1: silu of a large negative input is zero not NaN and of a large positive input is x") {
  // e^1000 overflows to inf in float: -1000 / (1 + inf) = -0, the right limit. Written as
  // e^x / (1 + e^x) * x instead, a large positive x gives inf / inf = NaN.
  for (float x : {-88.0f, -100.0f, -1000.0f, -1e30f}) {
    CAPTURE(x);
    const float y = llm::silu(x);
    CHECK_MESSAGE(!std::isnan(y), "silu(-large) must tend to 0: a form like -x * 0 or inf / inf gives NaN");
    CHECK_MESSAGE(y == doctest::Approx(0.0f), "silu(x) -> 0 as x -> -inf (sigmoid(x) -> 0)");
    CHECK_MESSAGE(y <= 0.0f, "silu of a negative number is never positive");
  }
  for (float x : {100.0f, 1000.0f, 1e30f}) {
    CAPTURE(x);
    const float y = llm::silu(x);
    CHECK_MESSAGE(!std::isnan(y), "silu(+large) must be x: e^x / (1 + e^x) overflows to inf / inf = NaN");
    CHECK_MESSAGE(y == doctest::Approx(x), "silu(x) -> x as x -> +inf (sigmoid(x) -> 1)");
  }
}

TEST_CASE("step 1: gelu is the exact erf form") {
  // gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))). The tanh approximation
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) gives 0.8411920 at 1 and -0.0454023 at -2: both wrong here.
  INFO("gelu must be the exact form 0.5 x (1 + erf(x / sqrt(2))), not the tanh or sigmoid approximation");
  CHECK(llm::gelu(0.0f) == 0.0f);
  CHECK_MESSAGE(llm::gelu(1.0f) == doctest::Approx(0.8413447f).epsilon(1e-6), "gelu(1) = Phi(1) = 0.8413447");
  CHECK_MESSAGE(llm::gelu(-1.0f) == doctest::Approx(-0.1586553f).epsilon(1e-6), "gelu(-1) = -Phi(-1) = -0.1586553");
  CHECK_MESSAGE(llm::gelu(2.0f) == doctest::Approx(1.9544997f).epsilon(1e-6), "gelu(2) = 2 Phi(2) = 1.9544997");
  CHECK_MESSAGE(llm::gelu(-2.0f) == doctest::Approx(-0.0455003f).epsilon(1e-5),
                "gelu(-2) = -2 Phi(-2) = -0.0455003 (the tanh approximation gives -0.0454023)");
  CHECK_MESSAGE(llm::gelu(0.5f) == doctest::Approx(0.3457312f).epsilon(1e-6), "gelu(0.5) = 0.5 Phi(0.5) = 0.3457312");
}

TEST_CASE("step 1: gelu tends to 0 on the left and to x on the right") {
  for (float x : {-20.0f, -100.0f, -1e30f}) {
    CAPTURE(x);
    const float y = llm::gelu(x);
    CHECK_MESSAGE(!std::isnan(y), "gelu(-large) must be finite: Phi(x) -> 0");
    CHECK_MESSAGE(y == doctest::Approx(0.0f), "gelu(x) -> 0 as x -> -inf");
  }
  for (float x : {10.0f, 1000.0f, 1e30f}) {
    CAPTURE(x);
    CHECK_MESSAGE(llm::gelu(x) == doctest::Approx(x), "gelu(x) -> x as x -> +inf: Phi(x) -> 1");
  }
}

// ------------------------------------------------------------------------------------------------
// Step 2: the activation applied to a tensor
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: activate with silu applies silu to every element and keeps the shape") {
  // (2, 2, 3): every element is a different value, so a skipped or repeated element shows.
  const Tensor x(Shape{2, 2, 3}, std::vector<float>{0, 1, -1, 2, -2, 0.5f, 3, -3, 4, -4, 10, -10});
  const Tensor y = llm::activate(x, Activation::kSiLU);
  REQUIRE_MESSAGE(y.shape() == x.shape(), "activate is elementwise: the shape " << x.shape().str() << " is kept");
  for (Index i = 0; i < x.numel(); ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(y.data()[i] == doctest::Approx(ref_silu(x.data()[i])), "activate(x, kSiLU) must be silu of each element");
  }
  CHECK(y(0, 0, 1) == doctest::Approx(0.7310586f));
}

TEST_CASE("step 2: activate with gelu applies gelu to every element and differs from silu") {
  const Tensor x(Shape{3, 4}, std::vector<float>{0, 1, -1, 2, -2, 0.5f, 3, -3, 4, -4, 10, -10});
  const Tensor y = llm::activate(x, Activation::kGELU);
  REQUIRE_MESSAGE(y.shape() == x.shape(), "activate is elementwise: the shape " << x.shape().str() << " is kept");
  for (Index i = 0; i < x.numel(); ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(y.data()[i] == doctest::Approx(ref_gelu(x.data()[i])), "activate(x, kGELU) must be gelu of each element");
  }
  CHECK_MESSAGE(y(0, 1) == doctest::Approx(0.8413447f), "activate(kGELU) must use gelu (0.8413447 at 1), not silu (0.7310586)");
}

// ------------------------------------------------------------------------------------------------
// Step 3: the gated MLP
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: a hand-sized SwiGLU MLP gives the values worked out by hand") {
  // x = (1, 2): gate x = (1, -2, 3), up x = (2, 3, -1),
  // silu(gate x) = (0.7310586, -0.2384058, 2.8577225), times up x = (1.4621172, -0.7152175, -2.8577225),
  // down: (1.4621172 - 0.7152175, -0.7152175 + 2.8577225) = (0.7468997, 2.1425050).
  // With the projections swapped, silu(up x) * gate x, the result would be (-3.9538510, -4.9086208).
  const MLP mlp = hand_mlp(Activation::kSiLU);
  const Tensor x(Shape{1, 1, 2}, std::vector<float>{1, 2});  // (B, T, C)
  const Tensor y = mlp.forward(x);
  REQUIRE_MESSAGE(y.shape() == Shape({1, 1, 2}), "the MLP maps (B, T, C) to (B, T, C)");
  INFO("SwiGLU: down_proj(silu(gate_proj x) * up_proj x), with the activation on the gate projection only");
  CHECK(y(0, 0, 0) == doctest::Approx(0.7468997f));
  CHECK(y(0, 0, 1) == doctest::Approx(2.1425050f));
  CHECK_MESSAGE(std::fabs(y(0, 0, 0) - -3.9538510f) > 1.0f,
                "the activation goes on gate_proj(x), not on up_proj(x): the two projections are not interchangeable");
}

TEST_CASE("step 3: a hand-sized GeGLU MLP gives the values worked out by hand") {
  // Same weights, act = gelu: gelu(gate x) = (0.8413447, -0.0455003, 2.9959502),
  // times up x = (1.6826894, -0.1365008, -2.9959502), down: (1.5461886, 2.8594494).
  // Swapped projections would give (-4.0374007, -5.5159345).
  const MLP mlp = hand_mlp(Activation::kGELU);
  const Tensor x(Shape{1, 1, 2}, std::vector<float>{1, 2});  // (B, T, C)
  const Tensor y = mlp.forward(x);
  REQUIRE_MESSAGE(y.shape() == Shape({1, 1, 2}), "the MLP maps (B, T, C) to (B, T, C)");
  INFO("GeGLU: down_proj(gelu(gate_proj x) * up_proj x) when mlp.act is kGELU");
  CHECK(y(0, 0, 0) == doctest::Approx(1.5461886f));
  CHECK(y(0, 0, 1) == doctest::Approx(2.8594494f));
  CHECK_MESSAGE(std::fabs(y(0, 0, 0) - 0.7468997f) > 0.1f, "MLP::forward must use its act member, not always silu");
}

TEST_CASE("step 3: the MLP keeps the leading dimensions") {
  const ModelConfig cfg = block_config();
  llm::Rng rng(3);
  const MLP mlp(cfg, rng);
  const Index C = cfg.hidden_size;
  for (const Shape& shape : {Shape{C}, Shape{5, C}, Shape{2, 3, C}, Shape{2, 2, 3, C}}) {
    CAPTURE(shape.str());
    const Tensor x = seeded(shape, 4);
    const Tensor y = mlp.forward(x);
    CHECK_MESSAGE(y.shape() == shape, "the MLP maps (..., C) to (..., C): every leading dimension is kept");
    CHECK_MESSAGE(max_diff(y, expected_mlp(mlp, x, Activation::kSiLU)) < kTol,
                  "down_proj(silu(gate_proj x) * up_proj x) for every token, whatever the rank");
  }
}

TEST_CASE("step 3: the config's hidden_act picks SwiGLU or GeGLU") {
  // The same seed draws the same weights for both configs; only hidden_act differs.
  ModelConfig silu_cfg = block_config();
  silu_cfg.hidden_act = Activation::kSiLU;
  ModelConfig gelu_cfg = silu_cfg;
  gelu_cfg.hidden_act = Activation::kGELU;
  llm::Rng rng_a(5), rng_b(5);
  const MLP swiglu(silu_cfg, rng_a);
  const MLP geglu(gelu_cfg, rng_b);
  const Tensor x = seeded(Shape{2, 3, silu_cfg.hidden_size}, 6);  // (B, T, C)

  const Tensor ys = swiglu.forward(x);
  const Tensor yg = geglu.forward(x);
  CHECK_MESSAGE(max_diff(ys, expected_mlp(swiglu, x, Activation::kSiLU)) < kTol,
                "hidden_act = silu: the MLP computes SwiGLU, down(silu(gate x) * up x)");
  CHECK_MESSAGE(max_diff(yg, expected_mlp(geglu, x, Activation::kGELU)) < kTol,
                "hidden_act = gelu: the MLP computes GeGLU, down(gelu(gate x) * up x)");
  CHECK_MESSAGE(max_diff(ys, yg) > 1e-2f, "SwiGLU and GeGLU on the same weights must differ: the activation matters");
}

// ------------------------------------------------------------------------------------------------
// Step 4: the pre-norm decoder block
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: a block whose attention and MLP output zero is the identity") {
  // o_proj = 0 and down_proj = 0 make both sub-blocks return zeros, so only the two residual adds
  // remain: h = x + 0 = x, out = h + 0 = x.
  const ModelConfig cfg = block_config();
  DecoderLayer layer = distinct_norm_layer(cfg, 7);
  layer.self_attn.o_proj.weight->fill(0.0f);
  layer.mlp.down_proj.weight->fill(0.0f);
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor x = seeded(Shape{2, 4, cfg.hidden_size}, 8);  // (B, T, C)
  const Tensor mask = causal_mask(2, 4);
  const Tensor out = layer.forward(x, positions(2, 4), &mask, nullptr, rope);
  REQUIRE_MESSAGE(out.shape() == x.shape(), "the block maps (B, T, C) to (B, T, C)");
  CHECK_MESSAGE(max_diff(out, x) < kTol,
                "the residual stream carries x through: with both sub-blocks silenced, out must equal x "
                "(zeros mean a residual add is missing; a rescaled x means the stream itself was normalised)");
}

TEST_CASE("step 4: with o_proj zeroed the block adds the MLP of the normalised input") {
  // Attention contributes nothing, so h == x and out = x + mlp(post_attention_layernorm(x)).
  const ModelConfig cfg = block_config();
  DecoderLayer layer = distinct_norm_layer(cfg, 9);
  layer.self_attn.o_proj.weight->fill(0.0f);
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor x = seeded(Shape{2, 3, cfg.hidden_size}, 10);  // (B, T, C)
  const Tensor mask = causal_mask(2, 3);
  const Tensor out = layer.forward(x, positions(2, 3), &mask, nullptr, rope);

  const Tensor expected = llm::add(expected_mlp(layer.mlp, layer.post_attention_layernorm.forward(x), cfg.hidden_act), x);
  CHECK_MESSAGE(max_diff(out, expected) < kTol,
                "out = h + mlp(post_attention_layernorm(h)) with h == x here: the MLP reads the output of "
                "post_attention_layernorm (not input_layernorm) and its result is added to the residual");
  const Tensor wrong_norm = llm::add(expected_mlp(layer.mlp, layer.input_layernorm.forward(x), cfg.hidden_act), x);
  CHECK_MESSAGE(max_diff(out, wrong_norm) > 1e-2f, "the MLP must be fed by post_attention_layernorm, not input_layernorm");
}

TEST_CASE("step 4: with down_proj zeroed the block returns h = x + attn of the normalised input") {
  // The MLP contributes nothing, so out == h = x + self_attn(input_layernorm(x)).
  const ModelConfig cfg = block_config();
  DecoderLayer layer = distinct_norm_layer(cfg, 11);
  layer.mlp.down_proj.weight->fill(0.0f);
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor x = seeded(Shape{2, 4, cfg.hidden_size}, 12);  // (B, T, C)
  const Tensor mask = causal_mask(2, 4);
  const IdTensor pos = positions(2, 4);
  const Tensor out = layer.forward(x, pos, &mask, nullptr, rope);

  // lesson 02's blocks (the reference) composed by hand.
  const Tensor attn = layer.self_attn.forward(layer.input_layernorm.forward(x), pos, &mask, nullptr, rope);
  const Tensor h = llm::add(attn, x);
  CHECK_MESSAGE(max_diff(out, h) < kTol,
                "h = x + self_attn(input_layernorm(x)) (pre-norm): normalise the input of attention, add its "
                "output to the untouched x, and add the MLP's update to h, not to x");
  CHECK_MESSAGE(max_diff(out, attn) > 1e-2f, "the attention residual is missing: h must be x + attn, not attn alone");
  const Tensor post_norm = layer.input_layernorm.forward(llm::add(
      layer.self_attn.forward(x, pos, &mask, nullptr, rope), x));
  CHECK_MESSAGE(max_diff(out, post_norm) > 1e-2f, "this is post-norm (norm after the residual add); Llama is pre-norm");
}

TEST_CASE("step 4: the block equals lesson 02's blocks composed by hand") {
  // h = x + self_attn(input_layernorm(x)); out = h + mlp(post_attention_layernorm(h)), with two norms of
  // different weights, B = 2, T = 5 and a causal mask.
  const ModelConfig cfg = block_config();
  const DecoderLayer layer = distinct_norm_layer(cfg, 13);
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor x = seeded(Shape{2, 5, cfg.hidden_size}, 14);  // (B, T, C)
  const Tensor mask = causal_mask(2, 5);
  const IdTensor pos = positions(2, 5);
  const Tensor out = layer.forward(x, pos, &mask, nullptr, rope);
  REQUIRE_MESSAGE(out.shape() == x.shape(), "the block maps (B, T, C) to (B, T, C)");

  const Tensor h = llm::add(layer.self_attn.forward(layer.input_layernorm.forward(x), pos, &mask, nullptr, rope), x);
  const Tensor expected = llm::add(expected_mlp(layer.mlp, layer.post_attention_layernorm.forward(h), cfg.hidden_act), h);
  CHECK_MESSAGE(max_diff(out, expected) < kTol,
                "the pre-norm block: h = x + attn(input_layernorm(x)), out = h + mlp(post_attention_layernorm(h))");

  // Two wrong blocks a student could write, to show the test tells them apart.
  const Tensor h_swapped =
      llm::add(layer.self_attn.forward(layer.post_attention_layernorm.forward(x), pos, &mask, nullptr, rope), x);
  const Tensor norms_swapped =
      llm::add(expected_mlp(layer.mlp, layer.input_layernorm.forward(h_swapped), cfg.hidden_act), h_swapped);
  CHECK_MESSAGE(max_diff(out, norms_swapped) > 1e-2f,
                "the norms are swapped: input_layernorm feeds attention, post_attention_layernorm feeds the MLP");
  const Tensor mlp_on_x = llm::add(expected_mlp(layer.mlp, layer.post_attention_layernorm.forward(h), cfg.hidden_act), x);
  CHECK_MESSAGE(max_diff(out, mlp_on_x) > 1e-2f, "the MLP's update is added to h (which already holds attention), not to x");
}
