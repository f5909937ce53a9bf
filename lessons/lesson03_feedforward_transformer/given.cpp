// given.cpp — lesson 03, given: the constructors, which only size and draw the weights.
#include "decoder_layer.h"
#include "mlp.h"

namespace llm {

MLP::MLP(const ModelConfig& config, Rng& rng) : act(config.hidden_act) {
  const float std = config.initializer_range;
  gate_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  up_proj = Linear::random(config.intermediate_size, config.hidden_size, rng, std);
  down_proj = Linear::random(config.hidden_size, config.intermediate_size, rng, std);
}

DecoderLayer::DecoderLayer(const ModelConfig& config, Rng& rng)
    : input_layernorm(config.hidden_size, config.rms_norm_eps),
      self_attn(config, rng),
      post_attention_layernorm(config.hidden_size, config.rms_norm_eps),
      mlp(config, rng) {}

}  // namespace llm
