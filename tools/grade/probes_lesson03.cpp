// probes_lesson03.cpp — `./llm compare lesson03`: SiLU and GELU on a grid, the activation by config,
// the gated MLP (SwiGLU and GeGLU) and the decoder block with and without a cache, on seeded inputs.
// Not here: timing, the given constructors.
#include <algorithm>
#include <string>
#include <vector>

#include "decoder_layer.h"
#include "grade/probes.h"
#include "mlp.h"

using namespace llm;
using namespace llm::dump;

namespace {

const std::vector<float> kGrid = {-100.0f, -6.0f, -2.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 2.0f, 6.0f, 50.0f};

}  // namespace

int main() {
  emit("{\"setup\":\"ModelConfig::tiny() and seeded inputs\"}");
  probe(1, "silu on -100 .. 50", [] {
    std::vector<float> y;
    for (float x : kGrid) y.push_back(silu(x));
    return floats(std::move(y));
  });
  probe(1, "gelu on -100 .. 50", [] {
    std::vector<float> y;
    for (float x : kGrid) y.push_back(gelu(x));
    return floats(std::move(y));
  });
  const Tensor grid(Shape{1, static_cast<Index>(kGrid.size())}, kGrid);
  probe(2, "activate(silu) on the grid", [&] { return floats(activate(grid, Activation::kSiLU)); });
  probe(2, "activate(gelu) on the grid", [&] { return floats(activate(grid, Activation::kGELU)); });

  for (const Activation act : {Activation::kSiLU, Activation::kGELU}) {
    ModelConfig cfg = ModelConfig::tiny();
    cfg.hidden_act = act;
    Rng rng(21);
    const MLP mlp(cfg, rng);
    probe(3, std::string("MLP forward (2, 3, C) hidden_act ") + activation_name(act), [&] {
      return floats(mlp.forward(seeded(Shape{2, 3, cfg.hidden_size}, 22)));
    });
  }

  const ModelConfig cfg = ModelConfig::tiny();
  Rng rng(23);
  DecoderLayer layer(cfg, rng);
  layer.input_layernorm.weight = seeded(Shape{cfg.hidden_size}, 24);  // the two norms differ
  const RotaryEmbedding rope(cfg.head_dim(), cfg.max_position_embeddings, cfg.rope_theta);
  const Tensor x = seeded(Shape{2, 4, cfg.hidden_size}, 25);  // (B, T, C)
  probe(4, "decoder block, causal mask, no cache", [&] {
    const Tensor mask = causal_mask(2, 4, 0);
    return floats(layer.forward(x, positions(2, 4, 0), &mask, nullptr, rope));
  });
  probe(4, "decoder block: 4 tokens one at a time through a cache", [&] {
    LayerKVCache cache(2, cfg.num_key_value_heads, 4, cfg.head_dim());
    return token_by_token(layer, x, cache, rope);
  });
  emit("{\"done\":true}");
}
