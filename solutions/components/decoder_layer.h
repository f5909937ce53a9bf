// decoder_layer.h — one pre-norm Llama block:
//   h = x + attn(input_layernorm(x));  out = h + mlp(post_attention_layernorm(h)).
#pragma once

#include "attention.h"
#include "mlp.h"
#include "rms_norm.h"

namespace llm {

struct DecoderLayer {
  RMSNorm input_layernorm;           // weight (C,)
  Attention self_attn;
  RMSNorm post_attention_layernorm;  // weight (C,)
  MLP mlp;

  DecoderLayer() = default;
  DecoderLayer(const ModelConfig& config, Rng& rng);

  // x: (B, T, C); positions (B, T); mask and cache as in Attention::forward. Returns (B, T, C).
  Tensor forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                 const RotaryEmbedding& rope) const;
};

}  // namespace llm
