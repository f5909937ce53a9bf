// decoder_layer.h — lesson 03's contract, part 2: one pre-norm Llama decoder block,
//   h = x + attn(input_layernorm(x));  out = h + mlp(post_attention_layernorm(h)).
// Pre-norm: each sub-block sees a normalised copy, and the residual stream itself is never normalised,
// so a deep stack keeps a clean path for the signal. Not here: post-norm (original Transformer),
// parallel attention + MLP (GPT-J), Gemma's extra norms.
//
// Dimension legend (docs/dimensions.md): B batch, T new tokens, P cached positions, C hidden_size.
#pragma once

#include "attention.h"
#include "mlp.h"
#include "norm.h"

namespace llm {

struct DecoderLayer {
  RMSNorm input_layernorm;           // weight (C,)
  Attention self_attn;
  RMSNorm post_attention_layernorm;  // weight (C,)
  MLP mlp;

  DecoderLayer() = default;
  // Given: norms of ones, then self_attn's and mlp's weights drawn from rng in that order.
  DecoderLayer(const ModelConfig& config, Rng& rng);

  // x: (B, T, C); positions (B, T); mask and cache as in Attention::forward. Returns (B, T, C).
  Tensor forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                 const RotaryEmbedding& rope) const;
};

}  // namespace llm
