// given.cpp — lesson 03, given: the constructors, which only size and draw the weights (or take them
// from a checkpoint).
#include "decoder_layer.h"
#include "mlp.h"

#include <utility>

#include "llm/errors.h"

namespace llm {

MLP::MLP(const ModelConfig& config, Rng& rng) : act(config.hidden_act) {
  const float std = config.initializer_range;
  gate_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  up_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  down_proj = Linear::random(config.hidden_size, config.intermediate_size, rng, std);
}

static void check_weight(const Linear& w, Index rows, Index cols, const char* name) {
  if (!w.weight || !(w.weight->shape() == Shape{rows, cols}))
    fail<ShapeError>("MLP ", name, " weight has shape ", w.weight ? w.weight->shape().str() : "(none)",
                     ", the config needs (", rows, ", ", cols, ")");
}

MLP::MLP(const ModelConfig& config, Linear gate, Linear up, Linear down)
    : gate_proj(std::move(gate)), up_proj(std::move(up)), down_proj(std::move(down)), act(config.hidden_act) {
  const Index C = config.hidden_size, F = config.intermediate_size;
  check_weight(gate_proj, F, C, "gate_proj");
  check_weight(up_proj, F, C, "up_proj");
  check_weight(down_proj, C, F, "down_proj");
}

DecoderLayer::DecoderLayer(const ModelConfig& config, Rng& rng)
    : input_layernorm(config.hidden_size, config.rms_norm_eps),
      self_attn(config, rng),
      post_attention_layernorm(config.hidden_size, config.rms_norm_eps),
      mlp(config, rng) {}

}  // namespace llm
